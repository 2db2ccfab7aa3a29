"""The station's one clock: what time and which day it is, asked the same way everywhere.

Domain code asks here instead of calling `datetime.now()`, `date.today()` or `time.time()`
itself, so "today" means one thing in every module: the date in the station's zone (the
machine's, `TZ` or /etc/localtime, as `kiosk.localtime` shows times), never the UTC date
and never a date computed twice a second apart. Tests set the clock by moving the process
clock with time-machine, which every call here follows; interval timers
(`time.monotonic()`, `time.perf_counter()`) are not calendar time and stay where they are.
"""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """Return the current moment, timezone-aware in UTC."""
    return dt.datetime.now(dt.UTC)


def local_now() -> dt.datetime:
    """Return the current moment in the station's zone, timezone-aware."""
    return now().astimezone()


def today() -> dt.date:
    """Return the station's date: the day on its wall calendar, not the UTC date."""
    return local_now().date()


def timestamp() -> float:
    """Return the current moment as seconds since the epoch (for JSON and health stamps)."""
    return now().timestamp()
