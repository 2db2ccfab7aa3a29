"""Shelving's guarantees under a place conflict: the next free place is tried, nothing is lost.

Found by mutation testing (scripts/mutation.sh domain/shelving.py, docs/testing.md): with
`continue` turned into `break` after a place conflict, the concurrency test still passed.
"""

from __future__ import annotations

from factories import ACTOR, make_order

from kiosk.domain import shelving
from kiosk.models import Order, OrderStatus


def test_a_place_another_station_took_first_is_skipped_for_the_next_free_one(
        session, station, monkeypatch):
    slot = shelving.get_slot(session, "B-01")  # three places
    first = make_order(session, slot="B-01", station=station)
    taken = first.place
    stale = [taken, *shelving.free_places(session, slot)]
    # What shelve reads while another station commits the same place a moment earlier: a
    # free-place list that still holds the place now taken (the unique key refuses ours).
    monkeypatch.setattr(shelving, "free_places", lambda s, sl: list(stale))
    second = make_order(session)
    shelving.shelve(session, second, slot, ACTOR, station.calendar, 7)
    session.commit()
    assert second.status == OrderStatus.READY and second.slot_label == "B-01"
    assert second.place == stale[1] and second.place != taken
    assert session.get(Order, first.id).place == taken
    assert [a.action for a in second.audit].count("shelved") == 1


def test_when_every_listed_place_is_taken_by_others_the_slot_is_full_and_nothing_changes(
        session, station, monkeypatch):
    slot = shelving.get_slot(session, "A-01")  # two places
    a = make_order(session, slot="A-01", station=station)
    b = make_order(session, slot="A-01", station=station)
    monkeypatch.setattr(shelving, "free_places", lambda s, sl: [a.place, b.place])
    third = make_order(session)
    before = third.status
    try:
        shelving.shelve(session, third, slot, ACTOR, station.calendar, 7)
    except shelving.SlotFull:
        pass
    else:
        raise AssertionError("a slot whose places are all taken must refuse the bag")
    assert third.place is None and third.status == before and third.slot_label is None
    session.commit()
    assert {session.get(Order, a.id).place_id, session.get(Order, b.id).place_id} == {
        a.place_id, b.place_id}
