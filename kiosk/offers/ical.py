"""A small, careful reader of iCalendar (RFC 5545) events: what the idle screen needs.

Reads VEVENT's UID, SUMMARY, DESCRIPTION, URL, DTSTART, DTEND/DURATION, STATUS,
EXDATE and RECURRENCE-ID, and daily or weekly RRULEs (INTERVAL, COUNT, UNTIL,
BYDAY) so a weekly language café shows its next meeting. Anything else is ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_OCCURRENCES = 20_000  # ~55 years of a daily event; a bound, not a limit anyone meets
WEEKDAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
_DURATION = re.compile(r"([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


class ICalError(ValueError):
    """Raised when text is not an iCalendar document."""


@dataclass
class Event:
    """One event (or the next occurrence of a recurring one)."""

    uid: str = ""
    summary: str = ""
    description: str = ""
    url: str = ""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    all_day: bool = False
    cancelled: bool = False
    rrule: dict[str, str] = field(default_factory=dict)
    exdates: set[dt.datetime] = field(default_factory=set)
    recurrence_id: dt.datetime | None = None


def unfold(text: str) -> list[str]:
    """Return the content lines of text with folded continuation lines joined."""
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw:
            lines.append(raw)
    return lines


def split_line(line: str) -> tuple[str, dict[str, str], str]:
    """Return (NAME, params, value) of one content line."""
    quoted, cut = False, -1
    for i, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            cut = i
            break
    if cut < 0:
        raise ICalError(f"content line without a value: {line[:40]!r}")
    head, value = line[:cut], line[cut + 1:]
    name, *params = head.split(";")
    out = {}
    for param in params:
        key, _, val = param.partition("=")
        out[key.strip().upper()] = val.strip().strip('"')
    return name.strip().upper(), out, value


def unescape(value: str) -> str:
    """Return iCalendar TEXT with its backslash escapes resolved."""
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _zone(params: dict[str, str], local: dt.tzinfo) -> dt.tzinfo:
    tzid = params.get("TZID", "")
    if not tzid:
        return local
    try:
        return ZoneInfo(tzid.lstrip("/"))
    except (ZoneInfoNotFoundError, ValueError):
        return local  # e.g. a Windows zone name: the station's own zone is the best guess


def parse_moment(value: str, params: dict[str, str], local: dt.tzinfo) -> dt.datetime:
    """Return a DATE or DATE-TIME value as an aware datetime (a date: local midnight)."""
    value = value.strip()
    if params.get("VALUE", "").upper() == "DATE" or re.fullmatch(r"\d{8}", value):
        return dt.datetime.combine(dt.datetime.strptime(value[:8], "%Y%m%d").date(), dt.time(),
                                   tzinfo=local)
    if value.endswith(("Z", "z")):
        return dt.datetime.strptime(value[:-1], "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    return dt.datetime.strptime(value, "%Y%m%dT%H%M%S").replace(tzinfo=_zone(params, local))


def parse_duration(value: str) -> dt.timedelta:
    """Return an iCalendar DURATION such as PT1H30M or P1D."""
    m = _DURATION.match(value.strip().upper())
    if not m or not any(m.groups()[1:]):
        raise ValueError(f"bad duration {value!r}")
    weeks, days, hours, minutes, seconds = (int(g or 0) for g in m.groups()[1:])
    delta = dt.timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    return -delta if m.group(1) == "-" else delta


def read_events(text: str, local: dt.tzinfo) -> list[Event]:
    """Return the VEVENTs of an iCalendar document; raise ICalError if it is not one."""
    lines = unfold(text.lstrip("\ufeff"))
    if not lines or lines[0].strip().upper() != "BEGIN:VCALENDAR":
        raise ICalError("does not begin with BEGIN:VCALENDAR")
    events: list[Event] = []
    stack: list[str] = []
    event: Event | None = None
    duration: dt.timedelta | None = None
    for line in lines:
        name, params, value = split_line(line)
        if name == "BEGIN":
            stack.append(value.strip().upper())
            if stack[-1] == "VEVENT":
                event, duration = Event(), None
            continue
        if name == "END":
            if not stack:
                raise ICalError("END without BEGIN")
            closed = stack.pop()
            if closed == "VEVENT" and event is not None:
                if event.end is None and event.start is not None:
                    # RFC 5545: without DTEND a date lasts a day, a date-time an instant
                    event.end = event.start + (duration or dt.timedelta(days=event.all_day))
                if event.start is not None:
                    events.append(event)
                event = None
            continue
        if event is None or not stack or stack[-1] != "VEVENT":
            continue
        try:
            _read_property(event, name, params, value, local)
            if name == "DURATION":
                duration = parse_duration(value)
        except ValueError:
            continue  # one bad property spoils only itself
    if stack:
        raise ICalError(f"unterminated {stack[-1]}")
    return events


def _read_property(event: Event, name: str, params: dict[str, str], value: str,
                   local: dt.tzinfo) -> None:
    if name == "UID":
        event.uid = value.strip()
    elif name == "SUMMARY":
        event.summary = unescape(value)
    elif name == "DESCRIPTION":
        event.description = unescape(value)
    elif name == "URL":
        event.url = value.strip()
    elif name == "DTSTART":
        event.start = parse_moment(value, params, local)
        event.all_day = params.get("VALUE", "").upper() == "DATE" or len(value.strip()) == 8
    elif name == "DTEND":
        event.end = parse_moment(value, params, local)
    elif name == "STATUS":
        event.cancelled = value.strip().upper() == "CANCELLED"
    elif name == "RRULE":
        event.rrule = {k.upper(): v for k, _, v in (p.partition("=") for p in value.split(";"))}
    elif name == "EXDATE":
        event.exdates.update(parse_moment(v, params, local) for v in value.split(","))
    elif name == "RECURRENCE-ID":
        event.recurrence_id = parse_moment(value, params, local)


def occurrences(event: Event, local: dt.tzinfo) -> Iterator[dt.datetime]:
    """Yield the start of every occurrence of event (only daily and weekly rules expand)."""
    assert event.start is not None
    rule = event.rrule
    freq = rule.get("FREQ", "").upper()
    if freq not in ("DAILY", "WEEKLY"):
        yield event.start
        return
    interval = max(1, int(rule["INTERVAL"])) if rule.get("INTERVAL", "").isdigit() else 1
    count = int(rule["COUNT"]) if rule.get("COUNT", "").isdigit() else None
    try:
        until = parse_moment(rule["UNTIL"], {}, local) if rule.get("UNTIL") else None
    except ValueError:
        until = None
    if until is not None and len(rule["UNTIL"].strip()) == 8:
        until += dt.timedelta(days=1, microseconds=-1)  # a date UNTIL includes its whole day
    days = sorted({WEEKDAYS[d[-2:]] for d in rule.get("BYDAY", "").upper().split(",")
                   if d[-2:] in WEEKDAYS}) if freq == "WEEKLY" else []
    produced = 0
    for step in range(MAX_OCCURRENCES):
        if freq == "DAILY":
            candidates = [event.start + dt.timedelta(days=step * interval)]
        else:
            week = event.start + dt.timedelta(weeks=step * interval)
            monday = week - dt.timedelta(days=week.weekday())
            candidates = ([monday + dt.timedelta(days=d) for d in days] if days else [week])
        for start in candidates:
            if start < event.start:
                continue
            if until is not None and start > until:
                return
            produced += 1
            if count is not None and produced > count:
                return
            if start not in event.exdates:
                yield start


def upcoming(events: list[Event], now: dt.datetime, local: dt.tzinfo) -> list[Event]:
    """Return the events not yet over at now, recurring ones as their next occurrence."""
    moved: dict[str, set[dt.datetime]] = {}
    for e in events:
        if e.recurrence_id is not None:
            moved.setdefault(e.uid, set()).add(e.recurrence_id)
    out = []
    for e in events:
        assert e.start is not None and e.end is not None
        if e.cancelled:
            continue
        length = max(e.end - e.start, dt.timedelta(0))
        if e.recurrence_id is None:
            e.exdates |= moved.get(e.uid, set())
        for start in occurrences(e, local):
            if start + length > now or (length == dt.timedelta(0) and start >= now):
                out.append(Event(uid=e.uid, summary=e.summary, description=e.description,
                                 url=e.url, start=start, end=start + length))
                break
    out.sort(key=lambda e: e.start or now)
    return out
