"""The calendar sweep: deadlines, clearance, opening days, webhook days and statistics on the
awkward days of a Norwegian library's year, each against what the printed calendar says.

Every expected date below is written out by hand from a calendar, not computed by the
station's code: the library is closed on Sundays and on Norway's public holidays (1 January,
Maundy Thursday, Good Friday, Easter Sunday and Monday, 1 and 17 May, Ascension Day, Whit
Sunday and Monday, 25 and 26 December; 24 December is an ordinary open day). A bag waits
seven opening days, counted from the day after it was shelved. The station's zone is
Europe/Oslo: CET (UTC+1) in winter, CEST (UTC+2) from 01:00 UTC on the last Sunday of March
to 01:00 UTC on the last Sunday of October.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass

import pytest
from days import OSLO, oslo
from factories import ACTOR, make_order
from sqlalchemy import select
from staff_helpers import login
from webhook_receiver import secret_file

from kiosk import clock
from kiosk.domain import clearance, stats
from kiosk.domain import orders as order_ops
from kiosk.domain.orders import OrderError
from kiosk.extensions import db
from kiosk.webhooks.outbox import WebhookDelivery

D = dt.date
OVERDUE, DUE, WAITING = "overdue", "due", "waiting"  # cleared now / last day today / not yet


def utc(year: int, month: int, day: int, hour: int, minute: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Day:
    """One moment on the station's clock and what the calendar says about it."""

    moment: dt.datetime
    today: dt.date  # the date on the library's wall calendar at that moment
    is_open: bool
    last_day: dt.date  # of a bag shelved at that moment (7 opening days)
    week: dt.date  # the Monday of that ISO week
    deadlines: tuple[tuple[dt.date, str], ...]  # a bag's stored deadline and what it is now


DAYS = {
    # Monday 14 December 2026; Sunday 13 was closed, so a bag whose deadline fell on it may
    # still be fetched today. 15-19 and 21-22 December are the seven opening days.
    "monday-after-closed-sunday": Day(
        oslo(2026, 12, 14), D(2026, 12, 14), True, D(2026, 12, 22), D(2026, 12, 14),
        ((D(2026, 12, 12), OVERDUE), (D(2026, 12, 13), DUE), (D(2026, 12, 14), DUE),
         (D(2026, 12, 15), WAITING))),
    # Thursday 24 December: open. 25, 26 (holidays), 27 (Sunday), 1 January (holiday) and
    # 3 January (Sunday) are closed: 28, 29, 30, 31 Dec, 2, 4, 5 Jan are the seven.
    "christmas-eve": Day(
        oslo(2026, 12, 24), D(2026, 12, 24), True, D(2027, 1, 5), D(2026, 12, 21),
        ((D(2026, 12, 23), OVERDUE), (D(2026, 12, 24), DUE), (D(2026, 12, 25), WAITING))),
    # Friday 25 December, Christmas Day: closed; nothing is due on a closed day.
    "christmas-day": Day(
        oslo(2026, 12, 25), D(2026, 12, 25), False, D(2027, 1, 5), D(2026, 12, 21),
        ((D(2026, 12, 24), OVERDUE), (D(2026, 12, 25), WAITING))),
    # Saturday 26 December, the second day of Christmas: closed; a deadline on 25 December
    # moves to Monday 28.
    "boxing-day": Day(
        oslo(2026, 12, 26), D(2026, 12, 26), False, D(2027, 1, 5), D(2026, 12, 21),
        ((D(2026, 12, 24), OVERDUE), (D(2026, 12, 25), WAITING), (D(2026, 12, 26), WAITING))),
    # Friday 1 January 2027: closed; ISO week 53 of 2026 (Monday 28 December 2026). The seven:
    # 2, 4, 5, 6, 7, 8, 9 January.
    "new-years-day": Day(
        oslo(2027, 1, 1), D(2027, 1, 1), False, D(2027, 1, 9), D(2026, 12, 28),
        ((D(2026, 12, 31), OVERDUE), (D(2027, 1, 1), WAITING))),
    # Easter Monday, 29 March 2027: closed. Maundy Thursday 25 moves to Saturday 27, past.
    # The seven: 30, 31 March, 1, 2, 3, 5, 6 April.
    "easter-monday": Day(
        oslo(2027, 3, 29), D(2027, 3, 29), False, D(2027, 4, 6), D(2027, 3, 29),
        ((D(2027, 3, 25), OVERDUE), (D(2027, 3, 27), OVERDUE), (D(2027, 3, 28), WAITING))),
    # The night summer time starts: Sunday 28 March 2027 (Easter Sunday), 01:30 CET, and
    # 03:30 CEST after the clocks jumped from 02:00 to 03:00. Easter Monday is closed too.
    "summer-time-starts-01:30-cet": Day(
        utc(2027, 3, 28, 0, 30), D(2027, 3, 28), False, D(2027, 4, 6), D(2027, 3, 22),
        ((D(2027, 3, 26), OVERDUE), (D(2027, 3, 27), OVERDUE), (D(2027, 3, 28), WAITING))),
    "summer-time-starts-03:30-cest": Day(
        utc(2027, 3, 28, 1, 30), D(2027, 3, 28), False, D(2027, 4, 6), D(2027, 3, 22),
        ((D(2027, 3, 26), OVERDUE), (D(2027, 3, 27), OVERDUE), (D(2027, 3, 28), WAITING))),
    # The night summer time ends: Sunday 31 October 2027, 02:30 comes twice (CEST, then
    # CET). The seven: 1-6 and 8 November.
    "summer-time-ends-02:30-cest": Day(
        utc(2027, 10, 31, 0, 30), D(2027, 10, 31), False, D(2027, 11, 8), D(2027, 10, 25),
        ((D(2027, 10, 30), OVERDUE), (D(2027, 10, 31), WAITING))),
    "summer-time-ends-02:30-cet": Day(
        utc(2027, 10, 31, 1, 30), D(2027, 10, 31), False, D(2027, 11, 8), D(2027, 10, 25),
        ((D(2027, 10, 30), OVERDUE), (D(2027, 10, 31), WAITING))),
    # Tuesday 29 February 2028. The seven: 1, 2, 3, 4, 6, 7, 8 March.
    "leap-day": Day(
        oslo(2028, 2, 29), D(2028, 2, 29), True, D(2028, 3, 8), D(2028, 2, 28),
        ((D(2028, 2, 28), OVERDUE), (D(2028, 2, 29), DUE), (D(2028, 3, 1), WAITING))),
    # 23:30 UTC on Tuesday 8 December 2026 is 00:30 on Wednesday 9 in Oslo: Tuesday's bags
    # are past their last day, and the seven are 10, 11, 12, 14, 15, 16, 17 December.
    "23:30-utc-tuesday": Day(
        utc(2026, 12, 8, 23, 30), D(2026, 12, 9), True, D(2026, 12, 17), D(2026, 12, 7),
        ((D(2026, 12, 8), OVERDUE), (D(2026, 12, 9), DUE))),
    # 23:30 UTC on Saturday 12 December is 00:30 on (closed) Sunday 13 in Oslo.
    "23:30-utc-saturday": Day(
        utc(2026, 12, 12, 23, 30), D(2026, 12, 13), False, D(2026, 12, 21), D(2026, 12, 7),
        ((D(2026, 12, 12), OVERDUE), (D(2026, 12, 13), WAITING))),
}

sweep = pytest.mark.parametrize("day", DAYS.values(), ids=DAYS.keys())


@pytest.fixture
def config_overrides(tmp_path, receiver):
    return {"webhooks": [{"url": receiver.url, "secret_file": secret_file(tmp_path)}]}


@pytest.fixture
def on(in_oslo, time_machine):
    """Return a function that stops the station's clock at a day's moment."""

    def move(day: Day) -> None:
        # in Oslo's zone: time-machine would set TZ=UTC for a moment given in UTC
        time_machine.move_to(day.moment.astimezone(OSLO), tick=False)

    return move


def events(app, kind: str) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        return [body for body in (json.loads(r.payload) for r in rows) if body["type"] == kind]


@sweep
def test_the_station_knows_which_day_it_is_and_whether_it_is_open(on, station, day):
    on(day)
    assert clock.today() == day.today
    assert clock.local_now().date() == day.today
    assert station.calendar.is_open(clock.today()) is day.is_open


@sweep
def test_a_bag_shelved_now_waits_seven_opening_days_and_its_event_says_so(on, app, session,
                                                                          station, day):
    on(day)
    order = make_order(session, slot="A-01", station=station)
    assert order.deadline == day.last_day
    assert clearance.effective_deadline(order, station.calendar) == day.last_day
    ready = events(app, "order.ready")[-1]
    assert ready["data"]["last_day"] == day.last_day.isoformat()
    stamp = day.moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert ready["timestamp"] == stamp


@sweep
def test_clearance_sorts_the_bags_as_the_calendar_says(on, app, session, station, day):
    on(day)
    bags = {}
    for n, (deadline, verdict) in enumerate(day.deadlines):
        order = make_order(session, slot=f"B-0{n + 1}", station=station)
        order.deadline = deadline
        bags[order.pickup_code] = verdict
    session.commit()
    listing = clearance.clearance_list(session, station.calendar)
    assert listing.today == day.today
    assert {o.pickup_code: OVERDUE for o in listing.overdue} | {
        o.pickup_code: DUE for o in listing.due_today} == {
        code: verdict for code, verdict in bags.items() if verdict != WAITING}
    for code, verdict in bags.items():
        if verdict == OVERDUE:
            cleared = clearance.clear_bag(session, code, ACTOR, station.calendar)
            assert cleared.status == "expired"
        else:
            with pytest.raises(OrderError, match="put it back"):
                clearance.clear_bag(session, code, ACTOR, station.calendar)
    session.commit()
    expired = [e["data"]["last_day"] for e in events(app, "order.expired")]
    assert expired == [d.isoformat() for d, verdict in day.deadlines if verdict == OVERDUE]


@sweep
def test_statistics_count_the_bags_on_the_librarys_day_and_week(on, app, client, session,
                                                               station, day):
    on(day)
    order = make_order(session, slot="A-02", station=station)
    order_ops.collect(session, order, ACTOR)
    session.commit()
    before, after = day.today - dt.timedelta(days=1), day.today + dt.timedelta(days=1)
    rep = stats.report(session, before, after)
    assert [(b.start, b.ready, b.collected) for b in rep.days] == [
        (before, 0, 0), (day.today, 1, 1), (after, 0, 0)]
    assert {w.start: w.ready for w in rep.weeks}[day.week] == 1
    login(client, app)
    rows = list(csv.reader(io.StringIO(client.get("/staff/stats.csv").get_data(as_text=True))))
    assert rows[-1] == [day.today.isoformat(), day.today.isoformat(), "1", "1", "0"]
    weeks = list(csv.reader(io.StringIO(
        client.get("/staff/stats.csv?by=week").get_data(as_text=True))))
    assert weeks[-1][1:] == [day.week.isoformat(), "1", "1", "0"]
