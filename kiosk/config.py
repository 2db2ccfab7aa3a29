"""Station configuration: a TOML file checked against a declared schema.

Every problem is reported with the file, the key and what is wrong; unknown
sections and keys are errors. Without a file the built-in defaults serve.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_VAR = "KIOSK_CONFIG"


class ConfigError(Exception):
    """Raised with every problem found in a configuration."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def default_state_dir() -> Path:
    """Return the folder for the database and secrets when none is configured."""
    if os.environ.get("STATE_DIRECTORY"):  # set by systemd's StateDirectory=
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "kiosk"


# --- validators: each returns an error text or None --------------------------

Check = Callable[[Any], str | None]


def _one_of(*choices: str) -> Check:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}"


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _not_negative(v: Any) -> str | None:
    return None if v >= 0 else "must not be negative"


def _port(v: Any) -> str | None:
    return None if 0 < v < 65536 else "must be a port number between 1 and 65535"


def _regexes(v: list) -> str | None:
    for p in v:
        if not isinstance(p, str):
            return "must be a list of strings"
        try:
            re.compile(p)
        except re.error as exc:
            return f"{p!r} is not a valid regular expression ({exc})"
    return None if v else "must name at least one pattern"


def _rate(v: str) -> str | None:
    if v == "off" or re.fullmatch(r"\s*\d+\s*(/|per)\s*(second|minute|hour|day)s?\s*", v):
        return None
    return 'must look like "30/minute" or be "off"'


def _iso_date(v: Any) -> str | None:
    import datetime as dt

    if isinstance(v, dt.date):
        return None
    try:
        dt.date.fromisoformat(str(v))
    except ValueError:
        return "must be a date such as 2026-12-24"
    return None


def _iso_dates(v: list) -> str | None:
    for d in v:
        problem = _iso_date(d)
        if problem:
            return f"{d!r}: {problem}"
    return None


def _weekdays(v: list) -> str | None:
    days = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
    bad = [d for d in v if d not in days]
    if bad:
        return f"unknown weekday(s) {bad}; use mon … sun"
    return "the library must be open on at least one weekday" if set(v) >= days else None


def _label_name(v: str) -> str | None:
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,3}", v):
        return None
    return "must be a letter followed by up to 3 letters or digits"


def _nonempty(v: str) -> str | None:
    return None if v.strip() else "must not be empty"


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default and extra check."""

    type: type | tuple[type, ...]
    default: Any
    check: Check | None = None


_STR, _INT, _BOOL = str, int, bool
_NUM = (int, float)

SCHEMA: dict[str, dict[str, Key]] = {
    "station": {
        "name": Key(_STR, "Pickup station", _nonempty),
        "branch": Key(_STR, "main", _nonempty),
        "language": Key(_STR, "nb", _one_of("nb", "nn", "en", "uk", "ar", "so", "pl")),
    },
    "database": {"url": Key(_STR, "", None)},
    "server": {
        "host": Key(_STR, "127.0.0.1", _nonempty),
        "port": Key(_INT, 8080, _port),
        "threads": Key(_INT, 16, _positive),
        "max_streams": Key(_INT, 8, _positive),
    },
    "scanner": {
        "kind": Key(_STR, "none", _one_of("serial", "keyboard", "evdev", "none")),
        "port": Key(_STR, "", None),
        "baudrate": Key(_INT, 9600, _positive),
        "bytesize": Key(_INT, 8, _one_of(5, 6, 7, 8)),
        "parity": Key(_STR, "N", _one_of("N", "E", "O", "M", "S")),
        "stopbits": Key(_NUM, 1, _one_of(1, 1.5, 2)),
        "terminator": Key(_STR, "CR", _one_of("CR", "LF", "CRLF", "none")),
        "char_timeout_s": Key(_NUM, 0.1, _positive),
        "debounce_s": Key(_NUM, 2.0, _not_negative),
        "prefix": Key(_STR, "", None),
        "suffix": Key(_STR, "", None),
        "device": Key(_STR, "", None),
    },
    "printer": {
        "kind": Key(
            _STR, "none", _one_of("none", "escpos-serial", "escpos-usb", "escpos-network", "file")
        ),
        "host": Key(_STR, "", None),
        "port": Key((_INT, _STR), 9100, None),
        "baudrate": Key(_INT, 9600, _positive),
        "vendor_id": Key((_INT, _STR), 0, None),
        "product_id": Key((_INT, _STR), 0, None),
        "path": Key(_STR, "", None),
        "profile": Key(_STR, "default", _nonempty),
        "auto_print": Key(_BOOL, False, None),
        "timeout_s": Key(_NUM, 3.0, _positive),
    },
    "kiosk": {
        "idle_seconds": Key(_INT, 20, _positive),
        "show_titles": Key(_BOOL, False, None),
        "show_names": Key(_BOOL, False, None),
        "rate_limit": Key(_STR, "30/minute", _rate),
        "self_collect": Key(_BOOL, True, None),
        "staff_pin": Key(_BOOL, False, None),
        "offer_seconds": Key(_INT, 12, _positive),
    },
    "cards": {
        "patterns": Key(list, [r"^N\d{9}$"], _regexes),
        "strip": Key(_STR, "", None),
        "uppercase": Key(_BOOL, True, None),
    },
    "pickup": {
        "days_on_shelf": Key(_INT, 7, _positive),
        "closed_weekdays": Key(list, ["sun"], _weekdays),
        "closed_dates": Key(list, [], _iso_dates),
        "holidays_country": Key(_STR, "NO", None),
        "anonymise_after_days": Key(_INT, 30, _not_negative),
    },
    "api": {"tokens_file": Key(_STR, "", None)},
    "staff": {
        "session_minutes": Key(_INT, 30, _positive),
        "lockout_attempts": Key(_INT, 5, _positive),
        "lockout_minutes": Key(_INT, 15, _positive),
    },
    "ils": {
        "kind": Key(_STR, "none", _one_of("none", "sip2")),
        "host": Key(_STR, "", None),
        "port": Key(_INT, 6001, _port),
        "user": Key(_STR, "", None),
        "password_file": Key(_STR, "", None),
        "institution": Key(_STR, "", None),
        "location": Key(_STR, "", None),
        "terminal_password_file": Key(_STR, "", None),
        "tls": Key(_BOOL, False, None),
        "tls_ca_file": Key(_STR, "", None),
        "encoding": Key(_STR, "utf-8", None),
        "timeout_s": Key(_NUM, 5, _positive),
        "holds_from_ils": Key(_BOOL, False, None),
        "patron_check": Key(_BOOL, False, None),
        "require_pin": Key(_BOOL, False, None),
        "checkout_on_collect": Key(_BOOL, True, None),
        "pickup_locations": Key(list, [], None),
        "reconcile_minutes": Key(_INT, 60, _not_negative),  # 0: only on demand
    },
    "logging": {"level": Key(_STR, "INFO", _one_of("DEBUG", "INFO", "WARNING", "ERROR"))},
}

TABLE_ARRAYS: dict[str, dict[str, Key]] = {
    "shelves": {
        "name": Key(_STR, None, _label_name),
        "slots": Key(_INT, None, _positive),
        "capacity": Key(_INT, 3, _positive),
    },
    "offers": {
        "kind": Key(_STR, "other", _one_of("ebooks", "podcast", "event", "language-cafe", "other")),
        "title": Key(_STR, "", None),
        "text": Key(_STR, "", None),
        "url": Key(_STR, "", None),
        "image": Key(_STR, "", None),
        "starts": Key(object, None, _iso_date),
        "ends": Key(object, None, _iso_date),
        "language": Key(_STR, "", None),
        "feed": Key(_STR, "", None),
        "feed_kind": Key(_STR, "auto", _one_of("auto", "rss", "atom", "ical", "json")),
        "refresh_minutes": Key(_INT, 60, _positive),
        "after_pickup": Key(_BOOL, False, None),
    },
}
REQUIRED_IN_ARRAYS = {"shelves": ("name", "slots")}

DEFAULT_SHELVES = [{"name": "A", "slots": 24, "capacity": 3}]


@dataclass
class Settings:
    """Validated configuration: one dict per section plus the table arrays."""

    source: str = "built-in defaults"
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    shelves: list[dict[str, Any]] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        sections = self.__dict__.get("sections", {})
        if name in sections:
            return _Section(sections[name])
        raise AttributeError(name)

    @property
    def database_url(self) -> str:
        url = self.sections["database"]["url"]
        if url:
            return url
        return f"sqlite:///{default_state_dir() / 'kiosk.db'}"


class _Section(dict):
    """A section's values, readable as attributes (settings.kiosk.idle_seconds)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def _type_name(t: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "true or false", float: "a number",
             list: "a list", object: "a value"}
    if isinstance(t, tuple):
        return " or ".join(names.get(x, x.__name__) for x in t)
    return names.get(t, t.__name__)


def _check_value(where: str, key: str, spec: Key, value: Any, problems: list[str]) -> Any:
    ok_type = isinstance(value, spec.type)
    if ok_type and spec.type in (int, _NUM) and isinstance(value, bool):
        ok_type = False  # TOML true is not a number
    if not ok_type:
        problems.append(f"{where}.{key}: must be {_type_name(spec.type)}, got {value!r}")
        return spec.default
    if spec.check:
        problem = spec.check(value)
        if problem:
            problems.append(f"{where}.{key}: {problem}")
    return value


def _check_table(where: str, schema: dict[str, Key], table: Any, problems: list[str]) -> dict:
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table, got {table!r}")
        return {k: s.default for k, s in schema.items()}
    out = {k: s.default for k, s in schema.items()}
    for key, value in table.items():
        if key not in schema:
            problems.append(f"{where}.{key}: unknown key (known: {', '.join(schema)})")
            continue
        out[key] = _check_value(where, key, schema[key], value, problems)
    return out


def _cross_checks(s: Settings, problems: list[str]) -> None:
    sc = s.sections["scanner"]
    if sc["kind"] == "serial" and not sc["port"]:
        problems.append("scanner.port: required when scanner.kind is \"serial\"")
    elif sc["kind"] == "serial" and "://" not in sc["port"]:
        dev = Path(sc["port"])
        if dev.exists() and not os.access(dev, os.R_OK | os.W_OK):
            problems.append(f"scanner.port: {dev} exists but cannot be opened for reading "
                            "and writing (is the user in the dialout group?)")
    pr = s.sections["printer"]
    needs = {"escpos-network": "host", "file": "path", "escpos-usb": "vendor_id"}
    if pr["kind"] == "escpos-serial" and not isinstance(pr["port"], str):
        problems.append('printer.port: must be a device path when printer.kind is "escpos-serial"')
    need = needs.get(pr["kind"])
    if need and not pr[need]:
        problems.append(f"printer.{need}: required when printer.kind is \"{pr['kind']}\"")
    ils = s.sections["ils"]
    if ils["kind"] == "sip2":
        for key in ("host", "user", "password_file", "institution"):
            if not ils[key]:
                problems.append(f"ils.{key}: required when ils.kind is \"sip2\"")
    for key in ("password_file", "terminal_password_file", "tls_ca_file"):
        if ils[key] and not os.access(ils[key], os.R_OK):
            problems.append(f"ils.{key}: cannot read {ils[key]}")
    tokens = s.sections["api"]["tokens_file"]
    if tokens and not os.access(tokens, os.R_OK):
        problems.append(f"api.tokens_file: cannot read {tokens}")
    names = [sh["name"] for sh in s.shelves]
    if len(set(names)) != len(names):
        problems.append("shelves: shelf names must be different from each other")
    for i, offer in enumerate(s.offers):
        if not offer["feed"] and not (offer["title"] and offer["url"]):
            problems.append(f"offers[{i}]: needs a title and a url, or a feed")


def parse(data: dict[str, Any], source: str = "built-in defaults") -> Settings:
    """Check a configuration mapping and return the settings, or raise ConfigError."""
    problems: list[str] = []
    s = Settings(source=source)
    for section, schema in SCHEMA.items():
        s.sections[section] = _check_table(section, schema, data.get(section, {}), problems)
    for name, schema in TABLE_ARRAYS.items():
        items = data.get(name, DEFAULT_SHELVES if name == "shelves" else [])
        if not isinstance(items, list):
            problems.append(f"{name}: must be an array of tables ([[{name}]])")
            continue
        checked = []
        for i, item in enumerate(items):
            table = _check_table(f"{name}[{i}]", schema, item, problems)
            for req in REQUIRED_IN_ARRAYS.get(name, ()):
                if isinstance(item, dict) and req not in item:
                    problems.append(f"{name}[{i}].{req}: required")
            checked.append(table)
        setattr(s, name, checked)
    for section in data:
        if section not in SCHEMA and section not in TABLE_ARRAYS:
            problems.append(f"{section}: unknown section")
    if not problems:
        _cross_checks(s, problems)
    if problems:
        raise ConfigError([f"{source}: {p}" for p in problems])
    return s


def load(path: str | os.PathLike | None = None) -> Settings:
    """Load the file at path (or $KIOSK_CONFIG); without either, the defaults."""
    path = path or os.environ.get(ENV_VAR) or None
    if not path:
        return parse({})
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError([f"{p}: file not found"]) from None
    except PermissionError:
        raise ConfigError([f"{p}: permission denied"]) from None
    except IsADirectoryError:
        raise ConfigError([f"{p}: is a folder, not a file"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{p}: not UTF-8 text ({exc.reason})"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{p}: not valid TOML: {exc}"]) from None
    return parse(data, source=str(p))
