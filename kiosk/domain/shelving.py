"""Shelves, slots and putting bags on them.

The capacity guarantee lives in the database: an order on the shelf owns one
`Place` of its slot through a unique key. Shelving picks a free place and
lets the database refuse a place another station took a moment earlier;
`shelve` then tries the next free place, and a slot with none left is full.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from kiosk import clock
from kiosk.domain import audit, order_events, order_writes
from kiosk.domain.calendar import OpeningCalendar
from kiosk.domain.messages import N_, StationError, sentences
from kiosk.domain.orders import Actor, NotFound, OrderError, record
from kiosk.models import Order, OrderStatus, Place, Shelf, Slot, utcnow

T = TypeVar("T")
LABEL_RE = re.compile(r"^([A-Za-z][A-Za-z0-9]{0,3}?)-?(\d{1,3})$")


class SlotFull(OrderError):
    status_code = 409


class OtherBranch(OrderError):
    """The bag belongs to another branch: it goes in the transit crate, not on this wall."""

    status_code = 409


class ShelvingRefused(OrderError):
    """A shelving hook refused the bag (the ILS says an item belongs elsewhere); one problem
    per item, each a StationError that staff pages translate."""

    status_code = 409

    def __init__(self, problems: list[StationError], detail: object = None):
        super().__init__(N_("Not shelved: %(problems)s"), detail,
                         problems=sentences(str(p) for p in problems))
        self.problems = problems


def could_shelve(session: Session, order: Order, slot: Slot) -> bool:
    """Return True when `shelve` would put order on slot now (open, slot in use, room)."""
    if order.status not in (OrderStatus.RECEIVED, OrderStatus.PACKING, OrderStatus.READY):
        return False
    if not slot.active or order.branch != slot.branch:
        return False
    return (order.place is not None and order.place.slot_id == slot.id) or bool(
        free_places(session, slot))


def slot_label(shelf: str, number: int) -> str:
    """Return the printed label of a slot, e.g. ``B-07``."""
    return f"{shelf}-{number:02d}"


def parse_label(text: str) -> str | None:
    """Return the canonical label for a typed or scanned slot label, or None."""
    m = LABEL_RE.match("".join(text.split()).upper())
    return slot_label(m.group(1), int(m.group(2))) if m else None


def sync_shelves(session: Session, shelves: Iterable[dict], branch: str = "main") -> list[str]:
    """Bring shelves, slots and places in line with the configuration; return changes.

    Each configured shelf belongs to its `branch` (default: this station's, branch).
    Only the walls of the branches this configuration names are touched: a station
    never retires another branch's shelves on a shared database. Slots and places that
    still hold a bag are kept (marked inactive) rather than deleted, so nothing on the
    shelf is ever lost by a configuration change. A shelf of a managed branch no longer
    configured goes out of use the same way (the stations of one branch carry the same
    `[[shelves]]`).
    """
    shelves = [{**conf, "branch": conf.get("branch") or branch} for conf in shelves]
    branches = {branch, *(conf["branch"] for conf in shelves)}
    if _in_line(session, shelves, branches):  # the usual start-up: one grouped query
        return []
    changes: list[str] = []
    # Every shelf with its slots and places in three queries (not one per slot: 2,000
    # slots took seconds at start-up), and no flush between them.
    known = {(shelf.branch, shelf.name): shelf for shelf in session.scalars(
        select(Shelf).where(Shelf.branch.in_(sorted(branches)))
        .options(selectinload(Shelf.slots).selectinload(Slot.places)))}
    with session.no_autoflush:
        _sync(session, shelves, known, changes)
        _retire(session, {(conf["branch"], conf["name"]) for conf in shelves}, known, changes)
    session.flush()
    return changes


def _in_line(session: Session, shelves: list[dict], branches: set[str]) -> bool:
    """Return True if the configured shelves, slots and places are all there as configured,
    and no shelf taken out of the configuration still has a slot in use (one query)."""
    names = {(conf["branch"], conf["name"]) for conf in shelves}
    have = set()
    for row in session.execute(
            select(Shelf.branch, Shelf.name, Shelf.position, Slot.number, Slot.active,
                   Slot.capacity, func.count(Place.id), func.max(Place.number))
            .join(Slot, Slot.shelf_id == Shelf.id).outerjoin(Place, Place.slot_id == Slot.id)
            .where(Shelf.branch.in_(sorted(branches))).group_by(Shelf.id, Slot.id)):
        if tuple(row[:2]) in names:
            have.add(tuple(row))
        elif row[4]:
            return False
    want = {(conf["branch"], conf["name"], pos, n, True, max(conf["capacity"], 1),
             conf["capacity"], conf["capacity"] or None)
            for pos, conf in enumerate(shelves) for n in range(1, conf["slots"] + 1)}
    return have == want


def _retire(session: Session, configured: set[tuple[str, str]],
            known: dict[tuple[str, str], Shelf], changes: list[str]) -> None:
    """Take the slots of shelves no longer configured out of use (bags keep their place)."""
    for key, shelf in known.items():
        if key in configured or not any(slot.active for slot in shelf.slots):
            continue
        changes.append(f"shelf {shelf.name} taken out of use")
        for slot in shelf.slots:
            slot.active = False
            _sync_places(session, slot, 0, changes)


def _sync(session: Session, shelves: Iterable[dict], known: dict[tuple[str, str], Shelf],
          changes: list[str]) -> None:
    for pos, conf in enumerate(shelves):
        shelf = known.get((conf["branch"], conf["name"]))
        if shelf is None:
            shelf = Shelf(name=conf["name"], branch=conf["branch"])  # position: below
            session.add(shelf)
            changes.append(f"shelf {conf['name']} added")
        if shelf.position != pos:
            shelf.position = pos
        existing = {s.number: s for s in shelf.slots}
        for n in range(1, max(conf["slots"], max(existing, default=0)) + 1):
            slot = existing.get(n)
            wanted = n <= conf["slots"]
            if slot is None and wanted:
                slot = Slot(number=n, label=slot_label(conf["name"], n),  # places: below
                            branch=conf["branch"])
                shelf.slots.append(slot)
            if slot is None:
                continue
            if slot.active != wanted:
                slot.active = wanted
            _sync_places(session, slot, conf["capacity"] if wanted else 0, changes)


def _sync_places(session: Session, slot: Slot, capacity: int, changes: list[str]) -> None:
    numbers = {p.number: p for p in slot.places}
    for n in range(1, capacity + 1):
        if n not in numbers:
            slot.places.append(Place(number=n))
    for n, place in numbers.items():
        if n > capacity:
            taken = place.id and session.scalar(select(Order.id).where(Order.place_id == place.id))
            if taken:
                changes.append(f"slot {slot.label}: place {n} kept until its bag is gone")
            else:
                slot.places.remove(place)
    new_capacity = max(capacity, 1)
    if slot.capacity != new_capacity:
        slot.capacity = new_capacity


def get_slot(session: Session, label: str, branch: str) -> Slot:
    """Return the slot with this label on branch's wall or raise NotFound."""
    canonical = parse_label(label)
    slot = canonical and session.scalar(
        select(Slot).where(Slot.branch == branch, Slot.label == canonical))
    if not slot:
        raise NotFound(N_("No slot %(slot)s"), {"slot": label}, slot=label)
    return slot


def occupancy(session: Session, branch: str | None = None) -> dict[int, int]:
    """Return the number of bags in each slot (of branch's wall, or every wall), by slot id."""
    query = select(Place.slot_id, func.count()).join(Order).group_by(Place.slot_id)
    if branch is not None:
        query = query.join(Slot, Place.slot_id == Slot.id).where(Slot.branch == branch)
    return dict(session.execute(query).all())


def free_places(session: Session, slot: Slot) -> list[Place]:
    """Return the slot's places no bag is in, lowest first."""
    taken = select(Order.place_id).where(Order.place_id.is_not(None))
    return list(session.scalars(
        select(Place).where(Place.slot_id == slot.id, Place.id.not_in(taken))
        .order_by(Place.number)
    ))


def shelve(session: Session, order: Order, slot: Slot, actor: Actor,
           calendar: OpeningCalendar, days_on_shelf: int, today: dt.date | None = None) -> None:
    """Put an order's bag in a free place of slot; raise SlotFull if there is none.

    Runs in a savepoint per attempt: when another station takes the same place
    first, the unique key refuses ours and the next free place is tried.
    """
    if order.status not in (OrderStatus.RECEIVED, OrderStatus.PACKING, OrderStatus.READY):
        raise OrderError(N_("Order %(order)s is %(status)s and cannot be shelved"),
                         {"status": order.status}, order=order.id, status=order.status)
    if not slot.active:
        raise OrderError(N_("Slot %(slot)s is not in use"), slot=slot.label)
    if order.branch != slot.branch:
        raise OtherBranch(N_("Belongs to %(branch)s"),
                          {"kind": "other_branch", "branch": order.branch},
                          branch=order.branch)
    if order.place is not None and order.place.slot_id == slot.id:
        return
    previous, was_on = order.status, order.slot_label
    for place in free_places(session, slot):
        try:
            with session.begin_nested():
                order.place = place
                order.status = OrderStatus.READY
                session.flush()
        except IntegrityError:
            order.place, order.status = None, previous
            continue
        detail = (audit.detail("moved", old=was_on, new=slot.label) if was_on
                  else audit.detail("on_slot", slot=slot.label))
        record(session, order, actor, "shelved", OrderStatus.READY, detail, from_status=previous)
        order.packed_at = order.packed_at or utcnow()
        order.slot_label = slot.label
        order.shelved_at = order.shelved_at or utcnow()
        start = today or clock.today()
        order.deadline = calendar.next_open(calendar.add_opening_days(start, days_on_shelf))
        if previous != OrderStatus.READY:
            order_events.order_changed(session, order, actor.station, previous)
        return
    raise SlotFull(N_("Slot %(slot)s is full"), {"slot": slot.label, "capacity": slot.capacity},
                   slot=slot.label)


def unshelve(session: Session, order: Order, actor: Actor) -> None:
    """Take a bag off its slot; the order goes back to packing."""
    if order.status != OrderStatus.READY:
        raise OrderError(N_("Order %(order)s is not on a shelf"), order=order.id)
    record(session, order, actor, "unshelved", OrderStatus.PACKING,
           audit.detail("off_slot", slot=order.slot_label))
    order.place = None
    order.status = OrderStatus.PACKING
    order.slot_label = None
    order.deadline = None
    order_events.order_changed(session, order, actor.station, OrderStatus.READY)


def suggest_slot(session: Session, order: Order, branch: str | None = None) -> Slot | None:
    """Suggest a slot of branch's wall (default the order's): beside the patron's other bags
    if there is room, else the emptiest; None for a bag of another branch."""
    branch = branch or order.branch
    if order.branch != branch:
        return None
    counts = occupancy(session, branch)
    slots = session.scalars(select(Slot).where(Slot.active.is_(True), Slot.branch == branch)
                            .join(Shelf).order_by(Shelf.position, Slot.number)).all()
    room = {s.id: s.capacity - counts.get(s.id, 0) for s in slots}
    if order.card:
        siblings = session.scalars(select(Place.slot_id).join(Order)
                                   .where(Order.card == order.card, Order.id != order.id)).all()
        for slot_id in siblings:
            if room.get(slot_id, 0) > 0:
                return session.get(Slot, slot_id)
    free = [s for s in slots if room[s.id] > 0]
    return max(free, key=lambda s: room[s.id] / s.capacity, default=None)


def with_retry(session: Session, work: Callable[[], T], attempts: int = 8) -> T:
    """Run work and commit, compare and set (kiosk.domain.order_writes)."""
    return order_writes.commit_work(session, work, attempts)
