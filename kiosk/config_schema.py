"""The station's configuration schema: every section, key, type, default and check.

`kiosk.config` reads a TOML file against it; an added key is one line here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.domain.messages import plural

# --- validators: each returns an error text or None --------------------------

Check = Callable[[Any], str | None]


def _one_of(*choices: str) -> Check:
    return lambda v: None if v in choices else f"must be one of {', '.join(choices)}"


def _positive(v: Any) -> str | None:
    return None if v > 0 else "must be greater than 0"


def _not_negative(v: Any) -> str | None:
    return None if v >= 0 else "must not be negative"


def _between(low: int, high: int, why: str = "") -> Check:
    def check(v: Any) -> str | None:
        if low <= v <= high:
            return None
        return f"must be between {low} and {high}{why}, got {v}"
    return check


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
        return (f"{plural(len(bad), 'unknown weekday', 'unknown weekdays')} {', '.join(bad)}; "
                "use mon … sun")
    return "the library must be open on at least one weekday" if set(v) >= days else None


def _label_name(v: str) -> str | None:
    if re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,3}", v):
        return None
    return "must be a letter followed by up to 3 letters or digits"


def _branch_names(v: list) -> str | None:
    if any(not isinstance(b, str) or not b.strip() or len(b) > 64 for b in v):
        return "must be a list of branch names (text of 1 to 64 characters)"
    return None


def _branch_name(v: str) -> str | None:
    if v and (not v.strip() or len(v) > 64):
        return "must be a branch name (text of 1 to 64 characters)"
    return None


def _database_url(v: str) -> str | None:
    """Empty (the state directory's SQLite file), SQLite or PostgreSQL: what the station runs on."""
    if not v or re.match(r"(sqlite:///|postgresql\+psycopg://)", v):
        return None
    return "must be a sqlite:/// or postgresql+psycopg:// url (the databases the station runs on)"


def _nonempty(v: str) -> str | None:
    return None if v.strip() else "must not be empty"


@dataclass(frozen=True)
class Key:
    """One configuration key: its type, default and extra check."""

    type: type | tuple[type, ...]
    default: Any
    check: Check | None = None


_STR, _INT, _BOOL = str, int, bool
MAX_SLOTS = 999  # per shelf
MAX_CAPACITY = 100  # bags per slot
MAX_SHELVES = 200
NUMBER = (int, float)

SCHEMA: dict[str, dict[str, Key]] = {
    "station": {
        "name": Key(_STR, "Pickup station", _nonempty),
        "branch": Key(_STR, "main", _nonempty),
        "branches": Key(list, [], _branch_names),  # every branch of the library
        "language": Key(_STR, "nb", _one_of("nb", "nn", "en", "uk", "ar", "so", "pl")),
        # desk: staff pages, labels and printer; no patron screen, no server-side scanner
        "role": Key(_STR, "kiosk", _one_of("kiosk", "desk")),
    },
    "database": {
        "url": Key(_STR, "", _database_url),
        # PostgreSQL only: the branch's local copy for outages (default: the state directory)
        "snapshot": Key(_STR, "", None),
    },
    "server": {
        "host": Key(_STR, "127.0.0.1", _nonempty),
        "port": Key(_INT, 8080, _port),
        "threads": Key(_INT, 16, _positive),
        "max_streams": Key(_INT, 8, _positive),
        # waitress's limits: a connection that sends nothing for channel_timeout seconds is
        # closed (checked every cleanup_interval s); beyond connection_limit open connections
        # new ones wait in the listen backlog. Waitress's own defaults (100 connections,
        # 120 s) let ~100 slow clients stop every scan.
        "connection_limit": Key(_INT, 500, _between(10, 10_000)),
        "channel_timeout": Key(_INT, 30, _between(1, 3600, " seconds")),
        "cleanup_interval": Key(_INT, 10, _between(1, 300, " seconds")),
        "backlog": Key(_INT, 1024, _between(1, 65_535)),
        "max_request_header_size": Key(_INT, 32_768, _between(4096, 1_048_576, " bytes")),
        "max_request_body_size": Key(_INT, 16 * 1024 * 1024,
                                     _between(65_536, 1024 * 1024 * 1024, " bytes")),
        "trusted_proxy": Key(_BOOL, False, None),  # X-Forwarded-For/-Proto of one hop
        "secure_cookies": Key(_BOOL, False, None),  # true behind TLS
    },
    "scanner": {
        "kind": Key(_STR, "none", _one_of("serial", "keyboard", "evdev", "none")),
        "port": Key(_STR, "", None),
        "baudrate": Key(_INT, 9600, _positive),
        "bytesize": Key(_INT, 8, _one_of(5, 6, 7, 8)),
        "parity": Key(_STR, "N", _one_of("N", "E", "O", "M", "S")),
        "stopbits": Key(NUMBER, 1, _one_of(1, 1.5, 2)),
        "terminator": Key(_STR, "CR", _one_of("CR", "LF", "CRLF", "none")),
        "char_timeout_s": Key(NUMBER, 0.1, _positive),
        "debounce_s": Key(NUMBER, 2.0, _not_negative),
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
        "timeout_s": Key(NUMBER, 3.0, _positive),
    },
    "kiosk": {
        "idle_seconds": Key(_INT, 20, _positive),
        "show_titles": Key(_BOOL, False, None),
        "show_names": Key(_BOOL, False, None),
        "rate_limit": Key(_STR, "30/minute", _rate),
        "self_collect": Key(_BOOL, True, None),
        # true: a patron whose bag waits at another branch is told which one (privacy: off)
        "tell_other_branch": Key(_BOOL, False, None),
        "staff_pin": Key(_BOOL, False, None),
        "offer_seconds": Key(_INT, 12, _positive),
        # speech output (EN 301 549 5.1.3): names and titles are spoken into headphones only
        "speech": Key(_STR, "off", _one_of("off", "speaker", "headphones")),
        "speech_volume": Key(_INT, 80, _between(10, 100, " percent")),
        "speech_rate": Key(_INT, 150, _between(80, 300, " words a minute")),
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
        "login_hashes": Key(_INT, 1, _positive),  # password hashes at once (64 MiB each)
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
        "timeout_s": Key(NUMBER, 5, _positive),
        "holds_from_ils": Key(_BOOL, False, None),
        "patron_check": Key(_BOOL, False, None),
        "require_pin": Key(_BOOL, False, None),
        "checkout_on_collect": Key(_BOOL, True, None),
        "checkin_on_shelve": Key(_BOOL, False, None),  # item bags check in with holds_from_ils
        "pickup_locations": Key(list, [], None),
        "reconcile_minutes": Key(_INT, 60, _not_negative),  # 0: only on demand
    },
    "metrics": {"token_file": Key(_STR, "", None)},
    "logging": {"level": Key(_STR, "INFO", _one_of("DEBUG", "INFO", "WARNING", "ERROR"))},
}

TABLE_ARRAYS: dict[str, dict[str, Key]] = {
    "shelves": {
        "name": Key(_STR, None, _label_name),
        # the branch whose wall the shelf is on; empty: this station's [station] branch
        "branch": Key(_STR, "", _branch_name),
        # slot labels carry up to 3 digits; a typo of 100000000 is caught here,
        # not by a 100-million-row `kiosk init`
        "slots": Key(_INT, None, _between(1, MAX_SLOTS, " (slot labels have up to 3 digits)")),
        "capacity": Key(_INT, 3, _between(1, MAX_CAPACITY, " bags per slot")),
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
WEBHOOK_EVENTS = ("order.received", "order.ready", "order.collected", "order.expired",
                  "order.cancelled")


def _events(v: list) -> str | None:
    bad = [e for e in v if e not in WEBHOOK_EVENTS]
    if not bad:
        return None
    return (f"{plural(len(bad), 'unknown event', 'unknown events')} {', '.join(bad)}; "
            f"known: {', '.join(WEBHOOK_EVENTS)}")


def _http_url(v: str) -> str | None:
    return None if re.match(r"https?://[^/\s]+", v) else "must be an http:// or https:// url"


TABLE_ARRAYS["webhooks"] = {
    "url": Key(_STR, "", _http_url),
    "secret_file": Key(_STR, "", _nonempty),
    "events": Key(list, [], _events),  # empty: every event
    "timeout_s": Key(NUMBER, 10, _positive),
    "include_patron": Key(_BOOL, False, None),  # card number and name in the payload
}
REQUIRED_IN_ARRAYS = {"shelves": ("name", "slots"), "webhooks": ("url", "secret_file")}

DEFAULT_SHELVES = [{"name": "A", "slots": 24, "capacity": 3}]
