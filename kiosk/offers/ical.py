"""The next meetings in an iCalendar (RFC 5545) feed, through `icalendar` and
`recurring-ical-events`.

Those two do the calendar: every RRULE (daily to yearly, BYDAY=1TU, BYSETPOS,
COUNT, UNTIL), RDATE, EXDATE, RECURRENCE-ID overrides, VTIMEZONE definitions
(also Outlook's Windows zone names), Google's X-WR-TIMEZONE, all-day and floating
events. This module only picks what the screen shows: of each event (UID), its
next occurrence that is not over and not cancelled, within WINDOW, looking only as
far ahead as `kiosk.offers.expansion` lets each series be expanded.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import icalendar
import recurring_ical_events

from kiosk.offers import expansion
from kiosk.offers.sources import FeedError, is_web_url, local_midnight

WINDOW = dt.timedelta(days=400)  # a yearly event shows its next meeting
_OLD_ONSET = re.compile(rb"^DTSTART:(1[0-8]\d\d|19[0-6]\d)(\d{4})(T\d{6})\r?$", re.M)
_TIMEZONES = re.compile(rb"BEGIN:VTIMEZONE.*?END:VTIMEZONE", re.S)


@dataclass(frozen=True)
class Occurrence:
    """One meeting of an event: what, where to follow it, and when."""

    uid: str
    summary: str
    description: str
    url: str
    start: dt.datetime  # aware
    end: dt.datetime  # aware, after start or equal to it
    all_day: bool


def _recent_onsets(data: bytes) -> bytes:
    """Return data with the VTIMEZONE rules that begin before 1970 beginning in 1970.

    Outlook starts its zones' rules in 1601; the zone icalendar builds from them
    (dateutil's tzical) then walks every year since 1601 on each lookup, some
    seconds for one calendar. The same rules from 1970 give the same offsets for
    every meeting still to come.
    """
    def rebase(zone: re.Match[bytes]) -> bytes:
        return _OLD_ONSET.sub(lambda m: b"DTSTART:1970" + (
            b"0228" if m.group(2) == b"0229" else m.group(2)) + m.group(3), zone.group(0))

    return _TIMEZONES.sub(rebase, data)


def read_calendar(data: bytes) -> icalendar.Calendar:
    """Return the calendar in data; raise FeedError if it is not one."""
    try:
        calendar = icalendar.Calendar.from_ical(_recent_onsets(data))
    except (ValueError, IndexError, KeyError, TypeError) as exc:
        raise FeedError(f"not an iCalendar feed: {str(exc)[:200]}") from exc
    if not isinstance(calendar, icalendar.Calendar):
        raise FeedError("not an iCalendar feed: no VCALENDAR")
    return calendar


def moment(value: dt.date) -> dt.datetime:
    """Return a DTSTART/DTEND value as an aware datetime (floating and dates: local time)."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.astimezone()
    return local_midnight(value)


def _text(component: Any, name: str) -> str:
    value = component.get(name)
    return str(value) if value is not None else ""


def _occurrence(event: Any) -> Occurrence | None:
    if "DTSTART" not in event:
        return None
    first = event["DTSTART"].dt
    start = moment(first)
    end = moment(event["DTEND"].dt) if "DTEND" in event else start
    location = _text(event, "LOCATION").strip()
    url = _text(event, "URL").strip() or (location if is_web_url(location) else "")
    return Occurrence(uid=_text(event, "UID"), summary=_text(event, "SUMMARY"),
                      description=_text(event, "DESCRIPTION"), url=url, start=start,
                      end=max(end, start), all_day=not isinstance(first, dt.datetime))


def upcoming(data: bytes, now: dt.datetime,
             window: dt.timedelta = WINDOW) -> tuple[list[Occurrence], int]:
    """Return (the next occurrence of each event not yet over at now, soonest first;
    how many there are)."""
    calendar = read_calendar(data)
    others = [c for c in calendar.subcomponents if c.name != "VEVENT"]  # VTIMEZONE and all
    occurrences = []
    for days, events in expansion.plan(calendar.walk("VEVENT"), now, window).items():
        calendar.subcomponents = others + events  # one query per look-ahead, few in all
        query = recurring_ical_events.of(calendar, skip_bad_series=True)
        try:
            occurrences += [(o, e) for e in query.between(now, now + dt.timedelta(days=days))
                            if (o := _occurrence(e)) is not None]
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise FeedError(f"iCalendar feed not understood: {str(exc)[:200]}") from exc
    found: dict[str, Occurrence] = {}
    for occurrence, event in sorted(occurrences, key=lambda pair: pair[0].start):
        over = (occurrence.end <= now if occurrence.end > occurrence.start
                else occurrence.start < now)
        cancelled = _text(event, "STATUS").strip().upper() == "CANCELLED"
        key = occurrence.uid or occurrence.summary
        if not (over or cancelled or key in found):
            found[key] = occurrence
    return list(found.values()), len(found)
