"""How much of a calendar to expand: every series weighed before `recurring-ical-events` runs.

dateutil walks each rule from its DTSTART and returns every occurrence in the asked
window as one list (a rule of every second over 400 days is 34 million of them, some
gigabytes), whatever else the rule says. The screen needs only each series' next
meeting, so each series is looked at over a window that holds at most PER_SERIES of its
meetings, and the calendar as a whole within MAX_OCCURRENCES and MAX_WALK; a series
meeting more than MAX_PER_DAY times a day, more often than daily, on more than
MAX_RDATES listed dates, or with a rule not understood is left out, and so is any
series past the budgets (logged).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from kiosk.offers.sources import local_midnight

log = logging.getLogger(__name__)

MAX_PER_DAY = 24  # meetings a day a series may have (BYHOUR x BYMINUTE x BYSECOND)
PER_SERIES = 16  # occurrences of one series looked at: its next meetings, not a year of them
MAX_OCCURRENCES = 5_000  # occurrences expanded, all series together (~1 s of CPU)
MAX_WALK = 200_000  # occurrences dateutil steps through from the series' starts (~1 s)
MAX_RDATES = 400  # dates listed one by one in a series (RDATE)
_PERIOD_DAYS = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 28, "YEARLY": 365}
_DATES_PER_PERIOD = {"DAILY": 1, "WEEKLY": 7, "MONTHLY": 31, "YEARLY": 366}


def _all(event: Any, name: str) -> list[Any]:
    """Return every value of a property that may appear more than once (RRULE, RDATE)."""
    found = event.get(name)
    return [] if found is None else found if isinstance(found, list) else [found]


def _dates(rule: Any, freq: str) -> int:
    """Return at most how many days a rule meets on in one of its periods."""
    if freq == "WEEKLY":
        n = len(rule.get("BYDAY") or [])
    elif freq == "MONTHLY":
        n = len(rule.get("BYMONTHDAY") or []) + 5 * len(rule.get("BYDAY") or [])
    elif freq == "YEARLY":
        n = (len(rule.get("BYYEARDAY") or []) + 7 * len(rule.get("BYWEEKNO") or [])
             + 31 * len(rule.get("BYMONTH") or []) + 53 * len(rule.get("BYDAY") or []))
    else:
        n = 1
    return min(max(n, 1), _DATES_PER_PERIOD[freq])


def _aware(value: dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.astimezone()
    return local_midnight(value)


def weight(event: Any, begin: dt.datetime, days: int) -> int | None:
    """Return at most how many occurrences event has in so many days from begin (a rule's
    COUNT and UNTIL taken into account), or None when the series is left out: more often
    than daily or MAX_PER_DAY, too many RDATEs, or a rule not understood."""
    try:
        total = 1 + sum(len(getattr(x, "dts", ())) for x in _all(event, "RDATE"))
        if total > MAX_RDATES:
            return None
        for rule in _all(event, "RRULE"):  # a second RRULE line counts as much as the first
            freq = str(rule["FREQ"][0]).upper()
            if freq not in _PERIOD_DAYS:  # SECONDLY, MINUTELY, HOURLY: not a library's meeting
                return None
            per_day = 1
            for part in ("BYHOUR", "BYMINUTE", "BYSECOND"):
                per_day *= max(1, len(rule.get(part) or []))
            if per_day > MAX_PER_DAY:
                return None
            span = days
            if rule.get("UNTIL"):  # an ended series is walked only up to its end
                span = min(span, (_aware(rule["UNTIL"][0]) - begin).days + 1)
            if span <= 0:
                continue
            periods = span // _PERIOD_DAYS[freq] + 1
            count = per_day * min(span, periods * _dates(rule, freq))
            total += min(count, int(rule["COUNT"][0])) if rule.get("COUNT") else count
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return None  # a broken rule: that series is left out
    return total


def _start(event: Any, now: dt.datetime) -> dt.datetime:
    """Return when a series begins (its rules are walked from there), aware."""
    try:
        return _aware(event["DTSTART"].dt)
    except (TypeError, ValueError, AttributeError, OverflowError, KeyError):
        return now


def _span(days: int, heaviest: int) -> int:
    """Return the days to look at: all of them, or a power of two holding PER_SERIES."""
    if heaviest <= PER_SERIES:
        return days
    fits = max(1, days * PER_SERIES // heaviest)
    return 1 << (fits.bit_length() - 1)


def plan(events: list[Any], now: dt.datetime,
         window: dt.timedelta) -> dict[int, list[Any]]:
    """Return the events to expand grouped by how many days ahead to look for them."""
    series: dict[str, list[Any]] = {}
    for event in events:  # a series and its moved meetings (RECURRENCE-ID) share a UID
        uid = str(event.get("UID") or "") or f"#{id(event)}"
        series.setdefault(uid, []).append(event)
    days = max(1, window.days)
    out: dict[int, list[Any]] = {}
    occurrences = walk = dropped = 0
    for group in series.values():
        since = min(min(_start(e, now) for e in group), now)
        past = (now - since).days
        ahead = [w for e in group if (w := weight(e, now, days)) is not None]
        walked = [w for e in group if (w := weight(e, since, days + past)) is not None]
        cost = sum(min(a, PER_SERIES) for a in ahead)
        if (len(ahead) < len(group) or len(walked) < len(group)
                or occurrences + cost > MAX_OCCURRENCES or walk + sum(walked) > MAX_WALK):
            dropped += 1
            continue
        occurrences, walk = occurrences + cost, walk + sum(walked)
        out.setdefault(_span(days, max(ahead)), []).extend(group)
    if dropped:
        log.warning("iCalendar feed: %d of %d series left out (more often than daily or "
                    "%d times a day, a rule not understood, or past the calendar's budget of "
                    "%d occurrences and %d steps)", dropped, len(series), MAX_PER_DAY,
                    MAX_OCCURRENCES, MAX_WALK)
    return out
