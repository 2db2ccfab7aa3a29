"""Opening days: pickup deadlines counted in days the library is open.

Closed days are the configured weekdays and dates plus the public holidays of
a country, taken from the maintained `holidays` package rather than a list
written here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cached_property

import holidays

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class OpeningCalendar:
    """Answer whether the library is open on a day, and count opening days."""

    def __init__(self, closed_weekdays: Iterable[str] = ("sun",),
                 closed_dates: Iterable[str | dt.date] = (), country: str = "NO"):
        self._closed_weekdays = {WEEKDAYS.index(d) for d in closed_weekdays}
        self._closed_dates = {
            d if isinstance(d, dt.date) else dt.date.fromisoformat(d) for d in closed_dates
        }
        self._country = country

    @cached_property
    def _holidays(self) -> holidays.HolidayBase | dict:
        # Norway's calendar counts every Sunday as a holiday; weekdays are ours to set.
        return holidays.country_holidays(self._country, include_sundays=False) \
            if self._country else {}

    def is_open(self, day: dt.date) -> bool:
        """Return True if the library is open on day."""
        return (day.weekday() not in self._closed_weekdays
                and day not in self._closed_dates and day not in self._holidays)

    def holiday_name(self, day: dt.date) -> str | None:
        """Return the public holiday's name on day, if any."""
        return self._holidays.get(day) if self._holidays else None

    def add_opening_days(self, start: dt.date, days: int) -> dt.date:
        """Return the last day of a hold of `days` opening days starting after start."""
        day, counted = start, 0
        limit = start + dt.timedelta(days=366 + days * 7)
        while counted < days:
            day += dt.timedelta(days=1)
            if day > limit:
                raise ValueError("the opening calendar has no open days")
            if self.is_open(day):
                counted += 1
        return day

    def next_open(self, day: dt.date) -> dt.date:
        """Return day itself if open, else the next open day."""
        found = self._next_open.get(day)
        if found is None:  # a clearance list asks this for every bag: remember the answer
            found = self._next_open[day] = self._find_next_open(day)
        return found

    @cached_property
    def _next_open(self) -> dict[dt.date, dt.date]:
        return {}

    def _find_next_open(self, day: dt.date) -> dt.date:
        for _ in range(366):
            if self.is_open(day):
                return day
            day += dt.timedelta(days=1)
        return day
