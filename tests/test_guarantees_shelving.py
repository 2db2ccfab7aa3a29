"""Shelving's guarantees: capacity, conflicts, retry, suggestions, configuration changes.

Found by mutation testing (scripts/mutation.sh domain/shelving.py, docs/testing.md): with
`continue` turned into `break` after a place conflict, the concurrency test still passed;
the rest pin what survived the first full measurement.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from factories import ACTOR, make_order
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from kiosk.domain import audit, order_events, shelving
from kiosk.domain.messages import StationError
from kiosk.domain.orders import NotFound, OrderError
from kiosk.models import Order, OrderStatus, Shelf, Slot, utcnow

WALL = [{"name": "A", "slots": 6, "capacity": 2}, {"name": "B", "slots": 4, "capacity": 3}]


def test_a_place_another_station_took_first_is_skipped_for_the_next_free_one(
        session, station, monkeypatch):
    slot = shelving.get_slot(session, "B-01", "main")  # three places
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
    slot = shelving.get_slot(session, "A-01", "main")  # two places
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


# --- what could_shelve, shelve and unshelve promise --------------------------------------

def test_could_shelve_says_what_shelve_would_do(session, station):
    a1, b1 = shelving.get_slot(session, "A-01", "main"), shelving.get_slot(session, "B-01", "main")
    received = make_order(session)
    packing = make_order(session, status="packing")
    assert shelving.could_shelve(session, received, a1)
    assert shelving.could_shelve(session, packing, b1)
    on_a1 = make_order(session, slot="A-01", station=station)
    make_order(session, slot="A-01", station=station)  # A-01 is full now
    assert not shelving.could_shelve(session, received, a1)
    assert shelving.could_shelve(session, on_a1, a1)  # already there: nothing to do
    assert shelving.could_shelve(session, on_a1, b1)  # a ready bag may move
    on_a2 = make_order(session, slot="A-02", station=station)
    assert not shelving.could_shelve(session, on_a2, a1)
    assert not shelving.could_shelve(session, make_order(session, status="cancelled"), b1)
    shelving.sync_shelves(session, [WALL[0], {**WALL[1], "slots": 3}])  # B-04 out of use
    session.commit()
    assert not shelving.could_shelve(session, received, shelving.get_slot(session, "B-04", "main"))


def test_refusals_say_why_in_words_and_in_their_detail(session, station):
    cancelled = make_order(session, status="cancelled")
    with pytest.raises(OrderError) as exc:
        shelving.shelve(session, cancelled, shelving.get_slot(session, "B-01", "main"), ACTOR,
                        station.calendar, 7)
    assert str(exc.value) == f"Order {cancelled.id} is cancelled and cannot be shelved"
    assert exc.value.detail == {"status": "cancelled"}
    assert exc.value.params == {"order": cancelled.id, "status": "cancelled"}

    shelving.sync_shelves(session, [WALL[0], {**WALL[1], "slots": 3}])
    session.commit()
    order = make_order(session)
    with pytest.raises(OrderError) as exc:
        shelving.shelve(session, order, shelving.get_slot(session, "B-04", "main"), ACTOR,
                        station.calendar, 7)
    assert str(exc.value) == "Slot B-04 is not in use" and exc.value.params == {"slot": "B-04"}

    make_order(session, slot="A-01", station=station)
    make_order(session, slot="A-01", station=station)
    with pytest.raises(shelving.SlotFull) as exc:
        shelving.shelve(session, order, shelving.get_slot(session, "A-01", "main"), ACTOR,
                        station.calendar, 7)
    assert str(exc.value) == "Slot A-01 is full" and exc.value.status_code == 409
    assert exc.value.detail == {"slot": "A-01", "capacity": 2}
    assert exc.value.params == {"slot": "A-01"}

    with pytest.raises(OrderError) as exc:
        shelving.unshelve(session, order, ACTOR)
    assert str(exc.value) == f"Order {order.id} is not on a shelf"
    assert exc.value.params == {"order": order.id}
    assert order.status == "received" and order.place is None


def test_a_refused_bag_names_every_problem():
    problems = [StationError("Item %(item)s belongs to %(branch)s", item="1", branch="Nord"),
                StationError("Item %(item)s is on hold for another patron", item="2")]
    exc = shelving.ShelvingRefused(problems, {"items": ["1", "2"]})
    assert str(exc) == ("Not shelved: Item 1 belongs to Nord. "
                        "Item 2 is on hold for another patron.")
    assert exc.template == "Not shelved: %(problems)s"
    assert exc.problems == problems and exc.detail == {"items": ["1", "2"]}
    assert exc.status_code == 409 and isinstance(exc, OrderError)
    assert shelving.ShelvingRefused(problems).detail is None


def test_shelving_moving_and_unshelving_are_recorded_and_told_with_what_they_were(
        session, station, monkeypatch):
    told = []
    monkeypatch.setattr(order_events, "_listeners",
                        [lambda s, changes: told.extend((s, c) for c in changes)])
    order = make_order(session)
    told.clear()
    packed = utcnow() - dt.timedelta(days=2)
    order.packed_at = packed
    shelving.shelve(session, order, shelving.get_slot(session, "A-01", "main"), ACTOR,
                    station.calendar, 7)
    assert [(s, c.order_id, c.status, c.previous, c.station, c.slot) for s, c in told] == [
        (session, order.id, "ready", "received", ACTOR.station, "A-01")]
    shelved = order.audit[-1]
    assert (shelved.action, shelved.from_status, shelved.to_status, shelved.detail) == (
        "shelved", "received", "ready", audit.detail("on_slot", slot="A-01"))
    assert order.packed_at == packed  # packing time stays what it was
    first = order.shelved_at
    assert first is not None

    told.clear()
    shelving.shelve(session, order, shelving.get_slot(session, "B-02", "main"), ACTOR,
                    station.calendar, 7)
    assert told == []  # still ready: a move is no change of status
    moved = order.audit[-1]
    assert (moved.action, moved.from_status, moved.to_status, moved.detail) == (
        "shelved", "ready", "ready", audit.detail("moved", old="A-01", new="B-02"))
    assert order.shelved_at == first  # the bag's first time on the shelf is kept

    shelving.unshelve(session, order, ACTOR)
    assert [(s, c.order_id, c.status, c.previous, c.station) for s, c in told] == [
        (session, order.id, "packing", "ready", ACTOR.station)]
    off = order.audit[-1]
    assert (off.action, off.from_status, off.to_status, off.detail) == (
        "unshelved", "ready", "packing", audit.detail("off_slot", slot="B-02"))
    assert order.place is None and order.slot_label is None and order.deadline is None


def test_a_bag_shelved_straight_from_receiving_gets_a_packing_time(session, station):
    order = make_order(session)
    assert order.packed_at is None and order.shelved_at is None
    shelving.shelve(session, order, shelving.get_slot(session, "A-01", "main"), ACTOR,
                    station.calendar, 7)
    assert order.packed_at is not None and order.shelved_at is not None


def test_a_bag_goes_into_the_lowest_free_place(session, station):
    x = make_order(session, slot="B-04", station=station)
    y = make_order(session, slot="B-04", station=station)
    shelving.unshelve(session, x, ACTOR)
    session.commit()
    shelving.sync_shelves(session, [WALL[0], {**WALL[1], "slots": 3}])  # free places go
    session.commit()
    shelving.sync_shelves(session, WALL)  # back in use: places 1 and 3 come anew
    session.commit()
    shelving.unshelve(session, y, ACTOR)
    session.commit()
    b4 = shelving.get_slot(session, "B-04", "main")
    assert [p.number for p in shelving.free_places(session, b4)] == [1, 2, 3]
    assert make_order(session, slot="B-04", station=station).place.number == 1


def test_a_shelf_taken_out_of_the_configuration_goes_out_of_use_keeping_its_bags(
        session, station):
    kept = make_order(session, slot="B-02", station=station)
    changes = shelving.sync_shelves(session, [WALL[0]])  # shelf B is gone from the wall
    session.commit()
    assert "shelf B taken out of use" in changes
    assert "slot B-02: place 1 kept until its bag is gone" in changes
    slots = session.scalars(select(Slot).join(Shelf).where(Shelf.name == "B")).all()
    assert slots and not any(slot.active for slot in slots)
    assert session.get(Order, kept.id).place is not None  # nothing on the shelf is lost
    for _ in range(12):  # every place of shelf A, then none: never a slot of shelf B
        suggested = shelving.suggest_slot(session, make_order(session))
        if suggested is None:
            break
        assert suggested.label.startswith("A-"), suggested.label
        make_order(session, slot=suggested.label, station=station)
    assert shelving.suggest_slot(session, make_order(session)) is None
    with pytest.raises(OrderError):
        shelving.shelve(session, make_order(session), shelving.get_slot(session, "B-03", "main"),
                        ACTOR, station.calendar, 7)
    assert shelving.sync_shelves(session, [WALL[0]]) == []  # in line now: nothing to do
    shelving.sync_shelves(session, WALL)  # shelf B back
    session.commit()
    assert all(slot.active for slot in session.scalars(select(Slot)))


def test_occupancy_counts_the_bags_in_each_slot(session, station):
    for label in ("A-01", "A-01", "B-02"):
        make_order(session, slot=label, station=station)
    make_order(session)  # not on the shelf
    slot = {label: shelving.get_slot(session, label, "main").id for label in ("A-01", "B-02")}
    assert shelving.occupancy(session) == {slot["A-01"]: 2, slot["B-02"]: 1}


# --- suggestions --------------------------------------------------------------------------

def test_an_empty_wall_suggests_the_first_slot_of_the_first_shelf(session, station):
    assert shelving.suggest_slot(session, make_order(session)).label == "A-01"
    shelving.sync_shelves(session, [WALL[1], WALL[0]])  # shelf B now comes first
    session.commit()
    assert shelving.suggest_slot(session, make_order(session)).label == "B-01"


def test_the_suggestion_is_the_slot_with_the_largest_share_free(session, station):
    for label in ("B-01", "B-02", "B-03", "B-04", "A-01"):
        make_order(session, slot=label, station=station)
    # 2 of 2 free; each B slot: 2 of 3 free (more places, a smaller share).
    assert shelving.suggest_slot(session, make_order(session)).label == "A-02"


def test_a_patrons_next_bag_goes_beside_their_others_while_there_is_room(session, station):
    card = "N100000077"
    make_order(session, card=card, slot="A-04", station=station)  # one place left there
    make_order(session, slot="B-03", station=station)  # another patron's bag
    assert shelving.suggest_slot(session, make_order(session, card=card)).label == "A-04"
    assert shelving.suggest_slot(session, make_order(session)).label == "A-01"
    alone = make_order(session, slot="A-05", station=station)
    assert shelving.suggest_slot(session, alone).label == "A-01"  # not beside itself
    make_order(session, card=card, slot="A-04", station=station)  # A-04 is full now
    assert shelving.suggest_slot(session, make_order(session, card=card)).label == "A-01"


def test_a_bag_on_a_slot_out_of_use_does_not_pull_the_next_one_there(session, station):
    card = "N100000078"
    make_order(session, card=card, slot="B-04", station=station)
    shelving.sync_shelves(session, [WALL[0], {**WALL[1], "slots": 3}])
    session.commit()
    assert shelving.suggest_slot(session, make_order(session, card=card)).label == "A-01"


def test_when_every_slot_is_full_there_is_no_suggestion(session, station):
    shelving.sync_shelves(session, [{"name": "A", "slots": 1, "capacity": 1},
                                    {"name": "B", "slots": 1, "capacity": 1}])
    session.commit()
    make_order(session, slot="A-01", station=station)
    assert shelving.suggest_slot(session, make_order(session)).label == "B-01"
    make_order(session, slot="B-01", station=station)
    assert shelving.suggest_slot(session, make_order(session)) is None


# --- configuration ------------------------------------------------------------------------

def _wall(session) -> dict[str, tuple]:
    session.expire_all()
    return {s.label: (s.shelf.position, s.active, s.capacity, [p.number for p in s.places])
            for s in session.scalars(select(Slot))}


def test_a_changed_configuration_is_brought_in_line_and_bags_keep_their_places(
        session, station):
    assert shelving.sync_shelves(session, WALL) == []  # in line: nothing to do
    kept = make_order(session, slot="A-06", station=station)
    full = make_order(session, slot="B-01", station=station)
    make_order(session, slot="B-01", station=station)
    make_order(session, slot="B-01", station=station)
    config = [{"name": "C", "slots": 2, "capacity": 1}, {"name": "A", "slots": 4, "capacity": 3},
              {"name": "B", "slots": 4, "capacity": 2}]
    changes = shelving.sync_shelves(session, config)
    session.commit()
    assert changes == ["shelf C added", "slot A-06: place 1 kept until its bag is gone",
                       "slot B-01: place 3 kept until its bag is gone"]
    wall = _wall(session)
    assert wall["C-01"] == wall["C-02"] == (0, True, 1, [1])
    assert wall["A-01"] == (1, True, 3, [1, 2, 3])
    assert wall["A-05"] == (1, False, 1, [])
    assert wall["A-06"] == (1, False, 1, [1])
    assert wall["B-02"] == (2, True, 2, [1, 2])
    assert wall["B-01"] == (2, True, 2, [1, 2, 3])  # the third bag keeps its place
    assert session.get(Order, kept.id).slot_label == "A-06"
    assert session.get(Order, full.id).place.number == 1
    assert shelving.sync_shelves(session, config) == changes[1:]  # only the kept places
    assert _wall(session) == wall


def test_a_configuration_already_in_line_is_checked_with_one_query(session, station):
    """The usual start-up: one grouped query, no objects loaded, nothing changed."""
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert shelving.sync_shelves(session, WALL) == []
        assert len(statements) == 1
        shelving.sync_shelves(session, [{**WALL[0], "capacity": 1}, WALL[1]])
        assert len(statements) > 2  # not in line: loaded and brought in line
    finally:
        event.remove(engine, "before_cursor_execute", count)
    session.commit()
    assert _wall(session)["A-01"] == (0, True, 1, [1])


def test_an_unknown_slot_is_named_as_typed(session):
    with pytest.raises(NotFound) as exc:
        shelving.get_slot(session, "q99", "main")
    assert str(exc.value) == "No slot q99" and exc.value.status_code == 404
    assert exc.value.detail == {"slot": "q99"} and exc.value.params == {"slot": "q99"}
    with pytest.raises(NotFound):
        shelving.get_slot(session, "not a label", "main")


# --- retrying a conflict ------------------------------------------------------------------

def _conflict(message: str = "database is locked") -> OperationalError:
    return OperationalError("UPDATE orders SET place_id=?", {}, sqlite3.OperationalError(message))


@pytest.mark.parametrize("message", [
    "database is locked", "could not serialize access due to concurrent update",
    "deadlock detected"])
def test_a_conflict_is_rolled_back_and_the_work_done_again_and_committed(session, message):
    calls = []

    def work():
        session.add(Shelf(name=f"Z{len(calls)}", branch="main", position=9))
        calls.append(1)
        if len(calls) < 3:
            raise _conflict(message)
        return "done"

    assert shelving.with_retry(session, work) == "done" and len(calls) == 3
    session.rollback()  # what was committed stays; the first two tries were rolled back
    assert set(session.scalars(select(Shelf.name).where(Shelf.position == 9))) == {"Z2"}


def test_a_conflict_that_lasts_is_given_up_after_the_last_attempt(session):
    calls = []

    def work():
        calls.append(1)
        raise _conflict()

    with pytest.raises(OperationalError, match="database is locked"):
        shelving.with_retry(session, work, attempts=3)
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(OperationalError):
        shelving.with_retry(session, work)
    assert len(calls) == 8  # the default


def test_other_errors_are_rolled_back_and_not_retried(session):
    calls = []

    def broken(error):
        def work():
            session.add(Shelf(name="Z", branch="main", position=9))
            calls.append(1)
            raise error
        return work

    with pytest.raises(OperationalError, match="no such table"):
        shelving.with_retry(session, broken(_conflict("no such table: orders")))
    with pytest.raises(ValueError):
        shelving.with_retry(session, broken(ValueError("bad")))
    assert len(calls) == 2
    assert session.scalar(select(Shelf.id).where(Shelf.name == "Z")) is None
