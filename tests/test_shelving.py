"""Shelving: labels, capacity as a database guarantee, suggestions, configuration sync."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import ACTOR, make_order
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from kiosk.domain import audit, orders, shelving
from kiosk.models import Order, Place, Slot


def test_labels_parse_in_forms_scanners_and_people_type():
    assert shelving.parse_label("b12") == "B-12"
    assert shelving.parse_label("B-2") == "B-02"
    assert shelving.parse_label(" a - 01 ") == "A-01"
    assert shelving.parse_label("12") is None
    assert shelving.parse_label("A-") is None


def test_configured_shelves_become_slots_with_places(session):
    slots = session.scalars(select(Slot).order_by(Slot.label)).all()
    assert [s.label for s in slots][:3] == ["A-01", "A-02", "A-03"]
    assert len(slots) == 10
    b1 = next(s for s in slots if s.label == "B-01")
    assert b1.capacity == 3 and len(b1.places) == 3


def test_shelving_sets_ready_slot_and_deadline(session, station):
    order = make_order(session, slot="A-03", station=station)
    assert order.status == "ready" and order.slot_label == "A-03"
    assert order.deadline > dt.date.today()
    assert audit.render(order.audit[-1].detail) == "On A-03"


def test_deadline_counts_opening_days_and_skips_holidays(session, station):
    order = make_order(session)
    # From Saturday 19 December 2026, 7 opening days: 21-24, 28-30 (Sundays, 25-26 closed).
    shelving.shelve(session, order, shelving.get_slot(session, "A-01", "main"), ACTOR,
                    station.calendar, 7, today=dt.date(2026, 12, 19))
    assert order.deadline == dt.date(2026, 12, 30)


def test_a_full_slot_refuses_the_next_bag(session, station):
    make_order(session, slot="A-01", station=station)
    make_order(session, slot="A-01", station=station)
    third = make_order(session)
    with pytest.raises(shelving.SlotFull):
        shelving.shelve(session, third, shelving.get_slot(session, "A-01", "main"), ACTOR,
                        station.calendar, 7)
    assert third.status == "received" and third.place_id is None


def test_database_refuses_two_bags_in_one_place(session, station):
    first = make_order(session, slot="A-01", station=station)
    second = make_order(session, slot="A-02", station=station)
    second.place_id = first.place_id
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_database_refuses_a_place_for_an_order_not_ready(session):
    order = make_order(session)
    order.place_id = session.scalar(select(Place.id).limit(1))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


def test_unknown_slot_is_not_found(session):
    with pytest.raises(orders.NotFound):
        shelving.get_slot(session, "Z-99", "main")


def test_move_to_another_slot_frees_the_first(session, station):
    order = make_order(session, slot="A-01", station=station)
    shelving.shelve(session, order, shelving.get_slot(session, "B-02", "main"), ACTOR,
                    station.calendar, 7)
    session.commit()
    assert order.slot_label == "B-02"
    assert shelving.occupancy(session) == {shelving.get_slot(session, "B-02", "main").id: 1}
    assert audit.parse(order.audit[-1].detail) == {"code": "moved", "old": "A-01", "new": "B-02"}
    assert audit.render(order.audit[-1].detail) == "Moved from A-01 to B-02"


def test_unshelve_returns_order_to_packing(session, station):
    order = make_order(session, slot="A-01", station=station)
    shelving.unshelve(session, order, ACTOR)
    session.commit()
    assert order.status == "packing" and order.place_id is None and order.slot_label is None


def test_suggestion_keeps_one_patrons_bags_together(session, station):
    make_order(session, card="N100000001", slot="B-03", station=station)
    second = make_order(session, card="N100000001")
    assert shelving.suggest_slot(session, second).label == "B-03"


def test_suggestion_avoids_full_slots(session, station):
    for _ in range(2):
        make_order(session, card="N100000001", slot="A-01", station=station)
    third = make_order(session, card="N100000001")
    suggested = shelving.suggest_slot(session, third)
    assert suggested is not None and suggested.label != "A-01"


def test_shrinking_configuration_keeps_bags_that_are_on_the_shelf(session, station):
    order = make_order(session, slot="B-04", station=station)
    changes = shelving.sync_shelves(session, [{"name": "A", "slots": 6, "capacity": 2},
                                              {"name": "B", "slots": 2, "capacity": 1}])
    session.commit()
    assert any("B-04" in c for c in changes)
    assert session.get(Order, order.id).place_id is not None
    b4 = shelving.get_slot(session, "B-04", "main")
    assert b4.active is False
    count = session.scalar(select(func.count(Place.id)).where(Place.slot_id == b4.id))
    assert count == 1  # only the occupied place survives


def test_a_calendar_without_open_days_is_refused_not_looped():
    from kiosk.config import ConfigError, parse
    from kiosk.domain.calendar import OpeningCalendar

    week = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    with pytest.raises(ConfigError, match="open on at least one weekday"):
        parse({"pickup": {"closed_weekdays": week}})
    with pytest.raises(ValueError, match="no open days"):
        OpeningCalendar(week).add_opening_days(dt.date(2026, 1, 1), 7)
