"""Opening calendar: deadlines in opening days, Norwegian holidays from `holidays`, closed days."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import ACTOR, make_order
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.domain import shelving
from kiosk.domain.calendar import OpeningCalendar

D = dt.date
NORWAY = OpeningCalendar(closed_weekdays=("sun",), country="NO")


@pytest.mark.parametrize("day", [
    D(2025, 1, 1),    # New Year's Day
    D(2025, 4, 17),   # Maundy Thursday
    D(2025, 4, 18),   # Good Friday
    D(2025, 4, 21),   # Easter Monday
    D(2025, 5, 1),    # Labour Day
    D(2025, 5, 17),   # Constitution Day (a Saturday)
    D(2025, 5, 29),   # Ascension Day
    D(2025, 6, 9),    # Whit Monday
    D(2025, 12, 25),  # Christmas Day
    D(2025, 12, 26),  # Boxing Day
    D(2026, 4, 2),    # Maundy Thursday, another year: moveable feasts move
    D(2026, 5, 14),   # Ascension Day 2026
    D(2026, 5, 25),   # Whit Monday 2026
])
def test_norwegian_public_holidays_are_closed(day):
    assert not NORWAY.is_open(day)
    assert NORWAY.holiday_name(day)


@pytest.mark.parametrize("day", [
    D(2025, 4, 19),   # Easter Saturday is no public holiday
    D(2025, 12, 24),  # Christmas Eve is no public holiday (close it in closed_dates)
    D(2025, 12, 31),
    D(2025, 5, 16),
    D(2026, 5, 16),
])
def test_ordinary_days_are_open(day):
    assert NORWAY.is_open(day)
    assert NORWAY.holiday_name(day) is None


def test_sundays_closed_by_configuration_not_by_the_holiday_list():
    all_week = OpeningCalendar(closed_weekdays=(), country="NO")
    assert all_week.is_open(D(2025, 4, 13))  # Palm Sunday: an ordinary Sunday
    assert not NORWAY.is_open(D(2025, 4, 13))
    assert not all_week.is_open(D(2025, 4, 20))  # Easter Sunday stays a holiday


@pytest.mark.parametrize(("start", "days", "deadline"), [
    # Easter 2025: Thu 17, Fri 18, Sun 20, Mon 21 closed; Saturday 19 open.
    (D(2025, 4, 14), 7, D(2025, 4, 25)),
    (D(2025, 4, 16), 1, D(2025, 4, 19)),
    (D(2025, 4, 16), 2, D(2025, 4, 22)),
    # 17 May 2025 is a Saturday, the 18th a Sunday.
    (D(2025, 5, 9), 6, D(2025, 5, 16)),
    (D(2025, 5, 9), 7, D(2025, 5, 19)),
    # Christmas 2025: Thu 25, Fri 26 closed; 24 open unless configured.
    (D(2025, 12, 22), 3, D(2025, 12, 27)),
    # Across New Year: next year's holidays come from the package too.
    (D(2025, 12, 30), 2, D(2026, 1, 2)),
    # 17 May 2026 is a Sunday; Ascension 14 May, Whit Monday 25 May.
    (D(2026, 5, 12), 3, D(2026, 5, 16)),
    (D(2026, 5, 22), 1, D(2026, 5, 23)),
    (D(2026, 5, 23), 1, D(2026, 5, 26)),
])
def test_deadline_counts_opening_days(start, days, deadline):
    assert NORWAY.add_opening_days(start, days) == deadline
    assert NORWAY.is_open(deadline)


def test_configured_closed_weekdays_and_dates_count_too():
    library = OpeningCalendar(closed_weekdays=("sat", "sun"),
                              closed_dates=["2025-12-24", "2025-12-31", D(2026, 1, 2)],
                              country="NO")
    assert not library.is_open(D(2025, 12, 24))
    # From Monday 22 Dec: Tue 23, then Mon 29, Tue 30 (24-28 and 31 closed).
    assert library.add_opening_days(D(2025, 12, 22), 3) == D(2025, 12, 30)
    # Jan 1 holiday, Jan 2 configured closed, weekend: Monday 5 January.
    assert library.add_opening_days(D(2025, 12, 30), 1) == D(2026, 1, 5)


@pytest.mark.parametrize(("day", "next_open"), [
    (D(2025, 4, 17), D(2025, 4, 19)),   # Maundy Thursday → Easter Saturday
    (D(2025, 4, 20), D(2025, 4, 22)),   # Easter Sunday → Tuesday
    (D(2025, 5, 17), D(2025, 5, 19)),   # Constitution Day (Sat) → Monday
    (D(2025, 12, 25), D(2025, 12, 27)),
    (D(2025, 12, 27), D(2025, 12, 27)),  # an open day stays
])
def test_a_closed_day_moves_to_the_next_open_day(day, next_open):
    assert NORWAY.next_open(day) == next_open


def test_without_a_country_only_configured_days_are_closed():
    plain = OpeningCalendar(closed_weekdays=("sun",), country="")
    assert plain.is_open(D(2025, 5, 17)) and plain.holiday_name(D(2025, 5, 17)) is None
    assert plain.add_opening_days(D(2025, 4, 16), 2) == D(2025, 4, 18)


@settings(max_examples=60, deadline=None)
@given(start=st.dates(D(2024, 1, 1), D(2030, 12, 31)), days=st.integers(1, 30),
       closed=st.sets(st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
                      max_size=5))
def test_a_deadline_is_always_an_open_day_exactly_n_opening_days_on(start, days, closed):
    calendar = OpeningCalendar(sorted(closed), country="NO")
    deadline = calendar.add_opening_days(start, days)
    assert calendar.is_open(deadline)
    between = [start + dt.timedelta(n) for n in range(1, (deadline - start).days + 1)]
    assert sum(calendar.is_open(d) for d in between) == days


@pytest.mark.parametrize("config_overrides", [
    {"pickup": {"closed_weekdays": ["sat", "sun"], "closed_dates": ["2025-12-24"]}}])
def test_shelving_uses_the_configured_calendar(session, station, config_overrides):
    order = make_order(session)
    shelving.shelve(session, order, shelving.get_slot(session, "B-01", "main"), ACTOR,
                    station.calendar, 3, today=D(2025, 12, 19))
    # Fri 19 Dec: Mon 22, Tue 23, then 24-28 closed: Monday 29.
    assert order.deadline == D(2025, 12, 29)
