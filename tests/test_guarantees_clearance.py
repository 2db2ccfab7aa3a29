"""Clearance's guarantees: only bags past their last day (or no longer waiting) are cleared.

Found by mutation testing (scripts/mutation.sh domain/clearance.py, docs/testing.md).
"""

from __future__ import annotations

import datetime as dt

import pytest
from factories import ACTOR, make_order

from kiosk.domain import clearance
from kiosk.domain import orders as order_ops
from kiosk.domain.calendar import OpeningCalendar
from kiosk.domain.orders import NotFound, OrderError
from kiosk.models import IlsJob, Order, utcnow

D = dt.date
TODAY = D(2025, 4, 25)  # a Friday


def on_shelf(session, station, slot: str, deadline: dt.date, items: int = 1) -> Order:
    order = make_order(session, slot=slot, station=station, items=items)
    order.deadline = deadline
    session.commit()
    return order


def test_bags_holding_items_no_longer_waiting_are_listed_by_slot_with_those_items(
        session, station):
    b = on_shelf(session, station, "B-01", TODAY, items=2)
    a = on_shelf(session, station, "A-03", TODAY, items=3)
    other = on_shelf(session, station, "A-01", TODAY)  # holds none of them
    lent = on_shelf(session, station, "A-02", TODAY)
    lent.items[0].lent_at = utcnow()
    gone = make_order(session, items=1)  # not on the shelf
    session.commit()
    wanted = [b.items[1].barcode, a.items[2].barcode, a.items[0].barcode,
              lent.items[0].barcode, gone.items[0].barcode, "0399999999"]
    bags = clearance.no_longer_waiting(session, wanted)
    assert [(bag.order.id, bag.items) for bag in bags] == [
        (a.id, [a.items[0].barcode, a.items[2].barcode]), (b.id, [b.items[1].barcode])]
    assert other.id not in {bag.order.id for bag in bags}
    assert clearance.no_longer_waiting(session, []) == []
    assert clearance.no_longer_waiting(session, set(wanted)) == bags


def test_bags_no_longer_waiting_on_one_shelf_are_listed_by_slot_number(session, station):
    far = on_shelf(session, station, "A-05", TODAY)
    near = on_shelf(session, station, "A-02", TODAY)  # shelved later, nearer the start
    bags = clearance.no_longer_waiting(session, [far.items[0].barcode, near.items[0].barcode])
    assert [bag.order.slot_label for bag in bags] == ["A-02", "A-05"]


def test_a_bag_no_longer_waiting_is_cleared_by_an_item_barcode_before_its_last_day(
        session, station):
    order = on_shelf(session, station, "A-01", TODAY + dt.timedelta(days=7), items=2)
    barcode = order.items[1].barcode
    cleared = clearance.clear_bag(session, f"  {barcode} ", ACTOR, station.calendar,
                                  today=TODAY, not_waiting={barcode})
    session.commit()
    assert cleared.id == order.id
    assert order.status == "expired" and order.place_id is None
    assert order.audit[-1].detail == clearance.NOT_WAITING_DETAIL


def test_a_bag_no_longer_waiting_is_cleared_by_its_pickup_code_before_its_last_day(
        session, station):
    order = on_shelf(session, station, "A-01", TODAY + dt.timedelta(days=7), items=2)
    cleared = clearance.clear_bag(session, order.pickup_code, ACTOR, station.calendar,
                                  today=TODAY, not_waiting={order.items[0].barcode})
    assert cleared.id == order.id and order.status == "expired"
    assert order.audit[-1].detail == clearance.NOT_WAITING_DETAIL


def test_a_bag_whose_items_all_still_wait_is_not_cleared_early(session, station):
    order = on_shelf(session, station, "A-02", TODAY + dt.timedelta(days=3))
    with pytest.raises(OrderError) as exc:
        clearance.clear_bag(session, order.pickup_code, ACTOR, station.calendar,
                            today=TODAY, not_waiting={"0399999999"})
    code, day = order.pickup_code, (TODAY + dt.timedelta(days=3)).isoformat()
    assert exc.value.detail == {"kind": "not_expired", "slot": "A-02", "pickup_code": code,
                                "deadline": day}
    assert str(exc.value) == f"Bag {code} may wait on A-02 until {day}; put it back"
    assert exc.value.params == {"code": code, "slot": "A-02", "day": day}
    assert order.status == "ready" and order.place_id is not None


def test_an_item_barcode_of_no_bag_on_the_shelf_is_refused_as_no_pickup_code(
        session, station):
    order = make_order(session, items=1)  # packed, not on the shelf
    barcode = order.items[0].barcode
    with pytest.raises(clearance.BadCode) as exc:
        clearance.clear_bag(session, barcode, ACTOR, station.calendar, today=TODAY,
                            not_waiting={barcode})
    assert exc.value.detail == {"kind": "not_a_pickup_code"}
    assert order.status == "received"
    with pytest.raises(clearance.BadCode, match="^Not a pickup code: " + "x" * 40 + "$"):
        clearance.clear_bag(session, "  " + "x" * 60, ACTOR, station.calendar, today=TODAY)


def test_a_reused_code_is_judged_by_its_latest_order(session, station):
    first = on_shelf(session, station, "A-01", D(2025, 4, 1))
    clearance.clear_bag(session, first.pickup_code, ACTOR, station.calendar, today=TODAY)
    session.commit()
    with pytest.raises(OrderError) as exc:  # the code's latest order was cleared
        clearance.clear_bag(session, first.pickup_code, ACTOR, station.calendar, today=TODAY)
    code = first.pickup_code
    assert exc.value.detail == {"kind": "already_cleared", "pickup_code": code}
    assert str(exc.value) == f"Bag {code} was already cleared from A-01"
    assert exc.value.params == {"code": code, "slot": "A-01"}
    second = make_order(session, slot="A-02", station=station)
    second.pickup_code = first.pickup_code  # a closed order's code may be drawn again
    session.commit()
    order_ops.collect(session, second, ACTOR)
    session.commit()
    with pytest.raises(NotFound) as exc:  # its latest order was collected, not cleared
        clearance.clear_bag(session, first.pickup_code, ACTOR, station.calendar, today=TODAY)
    assert exc.value.detail == {"kind": "unknown_code", "pickup_code": code}
    assert str(exc.value) == f"No bag with pickup code {code} is on the shelf"
    assert exc.value.params == {"code": code} and exc.value.status_code == 404


def test_a_bag_not_on_the_shelf_is_refused_with_its_status(session, station):
    order = make_order(session, status="packing")
    code = order.pickup_code
    with pytest.raises(OrderError) as exc:
        clearance.clear_bag(session, code.lower(), ACTOR, station.calendar, today=TODAY)
    assert str(exc.value) == f"Bag {code} is not on the shelf (order is packing)"
    assert exc.value.detail == {"kind": "not_on_shelf", "status": "packing", "pickup_code": code}
    assert exc.value.params == {"code": code, "status": "packing"}
    assert exc.value.status_code == 409 and order.status == "packing"


def test_a_finished_job_keeps_its_card_until_its_order_is_anonymised(session, station):
    now = utcnow()
    old, recent = make_order(session, items=1), make_order(session, items=1)
    for order, days in ((old, 31), (recent, 29)):
        order_ops.cancel(session, order, ACTOR)
        order.closed_at = now - dt.timedelta(days=days)
    jobs = [IlsJob(order_id=o.id, card=o.card, item_barcode=o.items[0].barcode, state="done")
            for o in (old, recent)]
    session.add_all(jobs)
    session.commit()
    card = recent.card
    assert clearance.anonymise_closed(session, 30, now=now) == 1
    session.commit()
    assert jobs[0].card == "" and jobs[1].card == card


def test_a_bag_on_the_shelf_is_overdue_only_after_its_last_day():
    calendar = OpeningCalendar((), country="")
    order = Order(status="ready", deadline=TODAY)
    assert not clearance.is_overdue(order, calendar, today=TODAY)
    assert clearance.is_overdue(order, calendar, today=TODAY + dt.timedelta(days=1))
    assert not clearance.is_overdue(Order(status="collected", deadline=D(2025, 1, 1)), calendar)
    assert not clearance.is_overdue(Order(status="ready", deadline=None), calendar)
    assert clearance.is_overdue(Order(status="ready", deadline=D(2025, 1, 1)), calendar)
    tomorrow = dt.date.today() + dt.timedelta(days=1)
    assert not clearance.is_overdue(Order(status="ready", deadline=tomorrow), calendar)
    assert clearance.effective_deadline(Order(status="ready"), calendar) is None


def test_a_last_day_moved_past_today_by_a_closure_is_neither_overdue_nor_due(session, station):
    late = on_shelf(session, station, "A-01", TODAY - dt.timedelta(days=1))  # Thursday
    closed = OpeningCalendar(("sun",), ["2025-04-24", "2025-04-25"], country="NO")
    listing = clearance.clearance_list(session, closed, today=TODAY)
    assert listing.overdue == [] and listing.due_today == []
    assert listing.today == TODAY
    listing = clearance.clearance_list(session, closed, today=TODAY + dt.timedelta(days=1))
    assert listing.due_today == [late]


def test_bags_in_one_slot_are_listed_in_the_order_they_were_shelved(session, station):
    first = on_shelf(session, station, "A-01", D(2025, 4, 1))
    second = on_shelf(session, station, "A-01", D(2025, 4, 2))
    first.shelved_at, second.shelved_at = utcnow(), utcnow() - dt.timedelta(hours=1)
    session.commit()
    listing = clearance.clearance_list(session, station.calendar, today=TODAY)
    assert listing.overdue == [second, first]
