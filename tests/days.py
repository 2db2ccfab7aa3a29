"""Named days for tests that depend on the calendar: pin one with time-machine.

    @pytest.mark.time_machine(ORDINARY_TUESDAY)

moves the process clock (and every thread's) to that moment for one test, ticking on from
it; a test states the day it means instead of taking the day it happens to run. The facts
in the comments were read from a printed Norwegian calendar, not computed by the station.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

OSLO = ZoneInfo("Europe/Oslo")


def oslo(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    """Return a wall-clock moment in Oslo (10:00 unless said), aware."""
    return dt.datetime(year, month, day, hour, minute, tzinfo=OSLO)


# Tuesday 8 December 2026, 10:00: an ordinary week (no holiday from Monday 7 to Monday 14
# December; the library is closed on Sundays only): yesterday, Monday 7, was open; Sunday 6
# was closed; the seven opening days from today end on Wednesday 16 December.
ORDINARY_TUESDAY = oslo(2026, 12, 8)
