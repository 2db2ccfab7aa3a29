"""Station configuration: a TOML file checked against a declared schema.

Every problem is reported with the file, the key and what is wrong; unknown
sections and keys are errors. Without a file the built-in defaults serve.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.config_schema import (
    DEFAULT_SHELVES,
    MAX_SHELVES,
    NUMBER,
    REQUIRED_IN_ARRAYS,
    SCHEMA,
    TABLE_ARRAYS,
    Key,
)

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




@dataclass
class Settings:
    """Validated configuration: one dict per section plus the table arrays."""

    source: str = "built-in defaults"
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    shelves: list[dict[str, Any]] = field(default_factory=list)
    offers: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)

    def __getattr__(self, name: str) -> Any:
        sections = self.__dict__.get("sections", {})
        if name in sections:  # read on every scan: no copy
            section = sections[name]
            return section if isinstance(section, _Section) else _Section(section)
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
    if ok_type and spec.type in (int, NUMBER) and isinstance(value, bool):
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
        problems.append("scanner.port: required when scanner.kind is serial")
    elif sc["kind"] == "serial" and "://" not in sc["port"]:
        dev = Path(sc["port"])
        if dev.exists() and not os.access(dev, os.R_OK | os.W_OK):
            problems.append(f"scanner.port: {dev} exists but cannot be opened for reading "
                            "and writing (is the user in the dialout group?)")
    if s.sections["station"]["role"] == "desk" and sc["kind"] == "serial":
        problems.append('scanner.kind: a desk station reads no scanner itself (its scanner '
                        'types into the staff pages); use keyboard or none when '
                        'station.role is desk')
    pr = s.sections["printer"]
    needs = {"escpos-network": "host", "file": "path", "escpos-usb": "vendor_id"}
    if pr["kind"] == "escpos-serial" and not isinstance(pr["port"], str):
        problems.append("printer.port: must be a device path when printer.kind is escpos-serial")
    need = needs.get(pr["kind"])
    if need and not pr[need]:
        problems.append(f"printer.{need}: required when printer.kind is {pr['kind']}")
    ils = s.sections["ils"]
    if ils["kind"] == "sip2":
        for key in ("host", "user", "password_file", "institution"):
            if not ils[key]:
                problems.append(f"ils.{key}: required when ils.kind is sip2")
    for key in ("password_file", "terminal_password_file", "tls_ca_file"):
        if ils[key] and not os.access(ils[key], os.R_OK):
            problems.append(f"ils.{key}: cannot read {ils[key]}")
    tokens = s.sections["api"]["tokens_file"]
    if tokens and not os.access(tokens, os.R_OK):
        problems.append(f"api.tokens_file: cannot read {tokens}")
    metrics_tokens = s.sections["metrics"]["token_file"]
    if metrics_tokens and not os.access(metrics_tokens, os.R_OK):
        problems.append(f"metrics.token_file: cannot read {metrics_tokens}")
    station = s.sections["station"]
    for sh in s.shelves:  # a shelf without a branch is on this station's wall
        sh["branch"] = sh["branch"] or station["branch"]
    names = [(sh["branch"], sh["name"]) for sh in s.shelves]
    if len(set(names)) != len(names):
        problems.append("shelves: shelf names must be different from each other within "
                        "a branch")
    library = {*station["branches"], station["branch"]}
    for i, sh in enumerate(s.shelves):
        if station["branches"] and sh["branch"] not in library:
            problems.append(f"shelves[{i}].branch: {sh['branch']!r} is not one of the "
                            f"library's branches ([station] branches and branch: "
                            f"{', '.join(sorted(library))})")
    for i, hook in enumerate(s.webhooks):
        problem = _webhook_secret_problem(hook["secret_file"])
        if problem:
            problems.append(f"webhooks[{i}].secret_file: {problem}")
    for i, offer in enumerate(s.offers):
        if not offer["feed"] and not (offer["title"] and offer["url"]):
            problems.append(f"offers[{i}]: needs a title and a url, or a feed")


def _webhook_secret_problem(path: str) -> str | None:
    """Return why path holds no Standard Webhooks secret (whsec_ + base64), or None."""
    import base64
    import binascii

    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            secret = fh.readline().strip()
    except (OSError, UnicodeDecodeError):
        return f"cannot read {path}"
    try:
        ok = bool(base64.b64decode(secret.removeprefix("whsec_") + "==", validate=False))
    except (binascii.Error, ValueError):
        ok = False
    return None if ok and secret.startswith("whsec_") else (
        f"{path} must hold a secret such as whsec_ followed by base64 on its first line")


def parse(data: dict[str, Any], source: str = "built-in defaults") -> Settings:
    """Check a configuration mapping and return the settings, or raise ConfigError."""
    problems: list[str] = []
    s = Settings(source=source)
    for section, schema in SCHEMA.items():
        s.sections[section] = _Section(
            _check_table(section, schema, data.get(section, {}), problems))
    for name, schema in TABLE_ARRAYS.items():
        items = data.get(name, DEFAULT_SHELVES if name == "shelves" else [])
        if not isinstance(items, list):
            problems.append(f"{name}: must be an array of tables ([[{name}]])")
            continue
        if name == "shelves" and len(items) > MAX_SHELVES:
            problems.append(f"shelves: at most {MAX_SHELVES} shelves, got {len(items)}")
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
