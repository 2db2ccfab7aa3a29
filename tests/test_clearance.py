"""Clearance: bags past their deadline, sorted by slot; scanning one frees its slot."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import ACTOR, make_order

from kiosk.domain import clearance, shelving
from kiosk.domain.calendar import OpeningCalendar
from kiosk.domain.orders import NotFound, OrderError
from kiosk.models import Order

D = dt.date
TODAY = D(2025, 4, 25)  # a Friday


def shelve_with_deadline(session, station, slot: str, deadline: dt.date) -> Order:
    """Shelve a new order on slot, then set its deadline as if shelved long ago."""
    order = make_order(session, slot=slot, station=station)
    order.deadline = deadline
    session.commit()
    return order


def test_overdue_bags_are_listed_by_slot_and_due_today_apart(session, station):
    late_b = shelve_with_deadline(session, station, "B-02", D(2025, 4, 23))
    late_a10 = shelve_with_deadline(session, station, "A-05", D(2025, 4, 24))
    late_a2 = shelve_with_deadline(session, station, "A-02", D(2025, 4, 1))
    due = shelve_with_deadline(session, station, "A-01", TODAY)
    shelve_with_deadline(session, station, "A-03", D(2025, 4, 26))  # not yet
    collected = shelve_with_deadline(session, station, "A-04", D(2025, 4, 2))
    collected.status = "collected"
    collected.place = None
    session.commit()

    listing = clearance.clearance_list(session, station.calendar, today=TODAY)

    assert [o.id for o in listing.overdue] == [late_a2.id, late_a10.id, late_b.id]
    assert [o.slot_label for o in listing.overdue] == ["A-02", "A-05", "B-02"]
    assert [o.id for o in listing.due_today] == [due.id]


def test_a_deadline_on_a_day_closed_later_moves_to_the_next_open_day():
    order = Order(status="ready", deadline=D(2025, 12, 24))
    before = OpeningCalendar(("sun",), country="NO")
    after = OpeningCalendar(("sun",), ["2025-12-24"], country="NO")
    assert clearance.effective_deadline(order, before) == D(2025, 12, 24)
    # 24 closed at short notice, 25-26 holidays: the bag waits until Saturday 27th.
    assert clearance.effective_deadline(order, after) == D(2025, 12, 27)
    assert clearance.is_overdue(order, before, today=D(2025, 12, 26))
    assert not clearance.is_overdue(order, after, today=D(2025, 12, 26))
    assert not clearance.is_overdue(order, after, today=D(2025, 12, 27))
    assert clearance.is_overdue(order, after, today=D(2025, 12, 29))


def test_clearing_a_bag_expires_the_order_and_frees_its_place(session, station):
    order = shelve_with_deadline(session, station, "A-01", D(2025, 4, 20))
    make_order(session, slot="A-01", station=station)  # the slot is now full (capacity 2)
    assert not shelving.free_places(session, shelving.get_slot(session, "A-01", "main"))

    cleared = clearance.clear_bag(session, order.pickup_code.replace("-", "").lower(), ACTOR,
                                  station.calendar, today=TODAY)
    session.commit()

    assert cleared.id == order.id
    assert order.status == "expired" and order.place_id is None and order.closed_at
    assert order.slot_label == "A-01"  # where it was, for the record
    assert order.audit[-1].action == "expired" and order.audit[-1].actor == ACTOR.name
    assert len(shelving.free_places(session, shelving.get_slot(session, "A-01", "main"))) == 1
    assert clearance.clearance_list(session, station.calendar, today=TODAY).overdue == []


def test_a_bag_not_yet_expired_is_refused_and_stays(session, station):
    order = shelve_with_deadline(session, station, "A-02", TODAY)
    with pytest.raises(OrderError, match="put it back") as exc:
        clearance.clear_bag(session, order.pickup_code, ACTOR, station.calendar, today=TODAY)
    assert exc.value.detail["kind"] == "not_expired"
    assert order.status == "ready" and order.place_id is not None


def test_wrong_scans_are_refused_with_the_reason(session, station):
    order = shelve_with_deadline(session, station, "A-02", D(2025, 4, 1))
    with pytest.raises(clearance.BadCode) as exc:
        clearance.clear_bag(session, "N000000001", ACTOR, station.calendar, today=TODAY)
    assert exc.value.status_code == 400
    with pytest.raises(NotFound):
        clearance.clear_bag(session, "ZZ-999" if order.pickup_code != "ZZ-999" else "ZZ-998",
                            ACTOR, station.calendar, today=TODAY)
    clearance.clear_bag(session, order.pickup_code, ACTOR, station.calendar, today=TODAY)
    session.commit()
    with pytest.raises(OrderError, match="already cleared from A-02"):
        clearance.clear_bag(session, order.pickup_code, ACTOR, station.calendar, today=TODAY)


def test_an_order_not_on_the_shelf_cannot_be_cleared(session, station):
    order = make_order(session)
    with pytest.raises(OrderError, match="not on the shelf") as exc:
        clearance.clear_bag(session, order.pickup_code, ACTOR, station.calendar, today=TODAY)
    assert exc.value.status_code == 409
    assert order.status == "received"
