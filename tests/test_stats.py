"""Statistics: known orders in, exact figures out (per day, per week, median, share, slots)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from factories import ACTOR, make_order

from kiosk.domain import orders as order_ops
from kiosk.domain import stats

D = dt.date
UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0, month: int = 4) -> dt.datetime:
    return dt.datetime(2025, month, day, hour, minute, tzinfo=UTC)


def shelved(session, station, slot, when, closed=None, status="ready"):
    """Make an order shelved on slot at `when`, closed as `status` at `closed` if given."""
    order = make_order(session, slot=slot, station=station)
    if status == "collected":
        order_ops.collect(session, order, ACTOR)
    elif status == "expired":
        order_ops.expire(session, order, ACTOR)
    order.shelved_at = when
    order.closed_at = closed
    session.commit()
    return order


@pytest.fixture
def known(session, station):
    """Orders with known times, 14-27 April 2025 (ISO weeks 16 and 17)."""
    shelved(session, station, "A-01", at(14, 10), at(14, 16), "collected")   # 6 h
    shelved(session, station, "A-01", at(14, 11), at(16, 11), "collected")   # 48 h
    shelved(session, station, "B-01", at(15, 9), at(24, 8), "expired")
    shelved(session, station, "A-02", at(22, 12), at(22, 13), "collected")   # 1 h
    shelved(session, station, "A-02", at(22, 12))                            # still there
    shelved(session, station, "A-03", at(10, 10), at(14, 10), "collected")   # 96 h, shelved before
    shelved(session, station, "A-03", at(27, 23, 30), at(28, 0, 30), "collected")  # closed after
    cancelled = make_order(session)
    order_ops.cancel(session, cancelled, ACTOR)
    cancelled.closed_at = at(15, 12)
    session.commit()
    return session


def test_counts_per_day(known):
    rep = stats.report(known, D(2025, 4, 14), D(2025, 4, 27), tz=UTC)
    by_day = {b.start: (b.ready, b.collected, b.expired) for b in rep.days}
    assert len(rep.days) == 14
    assert by_day[D(2025, 4, 14)] == (2, 2, 0)
    assert by_day[D(2025, 4, 15)] == (1, 0, 0)
    assert by_day[D(2025, 4, 16)] == (0, 1, 0)
    assert by_day[D(2025, 4, 22)] == (2, 1, 0)
    assert by_day[D(2025, 4, 24)] == (0, 0, 1)
    assert by_day[D(2025, 4, 27)] == (1, 0, 0)
    assert sum(by_day[D(2025, 4, d)] == (0, 0, 0) for d in range(14, 28)) == 8
    assert rep.totals == {"ready": 6, "collected": 4, "expired": 1}


def test_counts_per_iso_week(known):
    rep = stats.report(known, D(2025, 4, 14), D(2025, 4, 27), tz=UTC)
    assert [(w.name, w.start, w.ready, w.collected, w.expired) for w in rep.weeks] == [
        ("2025-W16", D(2025, 4, 14), 3, 3, 0),
        ("2025-W17", D(2025, 4, 21), 3, 1, 1),
    ]


def test_median_time_to_collect_and_share_uncollected(known):
    rep = stats.report(known, D(2025, 4, 14), D(2025, 4, 27), tz=UTC)
    # Waits of the bags collected in the period: 1, 6, 48, 96 hours.
    assert rep.median_to_collect == dt.timedelta(hours=27)
    assert stats.hours(rep.median_to_collect) == 27.0
    assert rep.uncollected_share == pytest.approx(1 / 5)


def test_slot_use_now_and_over_the_period(known):
    rep = stats.report(known, D(2025, 4, 14), D(2025, 4, 27), tz=UTC)
    use = {s.label: (s.capacity, s.now, s.shelved) for s in rep.slots}
    assert len(use) == 10
    assert use["A-01"] == (2, 0, 2)
    assert use["A-02"] == (2, 1, 2)
    assert use["A-03"] == (2, 0, 1)
    assert use["B-01"] == (3, 0, 1)
    assert use["B-04"] == (3, 0, 0)
    assert rep.occupancy_now == (1, 6 * 2 + 4 * 3)


def test_days_are_the_library_s_local_days(known):
    oslo = ZoneInfo("Europe/Oslo")  # UTC+2 in April: 23:30 UTC on the 27th is the 28th
    rep = stats.report(known, D(2025, 4, 27), D(2025, 4, 28), tz=oslo)
    assert [(b.ready, b.collected) for b in rep.days] == [(0, 0), (1, 1)]


def test_an_empty_period_has_no_median_and_no_share(session):
    rep = stats.report(session, D(2020, 1, 1), D(2020, 1, 7), tz=UTC)
    assert rep.totals == {"ready": 0, "collected": 0, "expired": 0}
    assert rep.median_to_collect is None and rep.uncollected_share is None
    assert stats.hours(None) is None


def test_csv_export_by_day_week_and_slot(known):
    rep = stats.report(known, D(2025, 4, 14), D(2025, 4, 16), tz=UTC)
    assert stats.to_csv(rep, "day").splitlines() == [
        "day,start,ready,collected,expired",
        "2025-04-14,2025-04-14,2,2,0",
        "2025-04-15,2025-04-15,1,0,0",
        "2025-04-16,2025-04-16,0,1,0",
    ]
    assert stats.to_csv(rep, "week").splitlines() == [
        "week,start,ready,collected,expired", "2025-W16,2025-04-14,3,3,0"]
    slot_rows = stats.to_csv(rep, "slot").splitlines()
    assert slot_rows[0] == "slot,capacity,bags_now,bags_shelved"
    assert "A-01,2,0,2" in slot_rows and "A-02,2,1,0" in slot_rows
    with pytest.raises(ValueError):
        stats.to_csv(rep, "month")


@pytest.mark.parametrize(("start", "end"), [(D(2025, 4, 2), D(2025, 4, 1)),
                                            (D(2020, 1, 1), D(2025, 1, 1))])
def test_nonsense_periods_are_refused(session, start, end):
    with pytest.raises(ValueError):
        stats.report(session, start, end)
