"""Clearance: bags left on the shelf past their deadline, and patron data past its time.

A deadline is fixed at shelving (see `kiosk.domain.shelving.shelve`), counted
in opening days. Should the calendar change afterwards (a day closed at short
notice), a deadline that now falls on a closed day moves to the next open day:
`effective_deadline` is what clearance and the shelf map go by.

With holds kept in the library system, bags holding items the last reconciliation
found no longer waiting there (cancelled, expired, collected elsewhere) are listed
too, and may be cleared whatever their deadline, by bag label or item barcode.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, selectinload

from kiosk import clock
from kiosk.domain import audit, pickup_codes
from kiosk.domain import orders as order_ops
from kiosk.domain.calendar import OpeningCalendar
from kiosk.domain.messages import N_
from kiosk.domain.orders import Actor, NotFound, OrderError
from kiosk.models import IlsJob, Item, Order, OrderStatus, Place, Shelf, Slot, utcnow

NOT_WAITING_DETAIL = audit.detail("not_waiting")


class BadCode(OrderError):
    """What was scanned is not a pickup code at all."""

    status_code = 400


@dataclass(frozen=True)
class ClearanceList:
    """Bags to take off the shelf today (past their deadline) and bags due today."""

    today: dt.date
    overdue: list[Order]
    due_today: list[Order]


@dataclass(frozen=True)
class NotWaitingBag:
    """A bag on the shelf holding items the library system no longer lists as waiting."""

    order: Order
    items: list[str]


def _on_wall(query, branch: str | None):
    """Return query (joined to Slot) kept to branch's wall; every wall for None."""
    return query if branch is None else query.where(Slot.branch == branch)


def no_longer_waiting(session: Session, barcodes: Collection[str],
                      branch: str | None = None) -> list[NotWaitingBag]:
    """Return the bags still on the shelf (of branch's wall, or any) that hold any of these
    items (not lent), by slot."""
    if not barcodes:
        return []
    rows = session.execute(_on_wall(
        select(Order, Item.barcode).join(Item).join(Place).join(Slot).join(Shelf)
        .where(Order.status == OrderStatus.READY, Item.barcode.in_(list(barcodes)),
               Item.lent_at.is_(None))
        .order_by(Shelf.branch, Shelf.position, Slot.number, Order.id, Item.id),
        branch)).all()
    bags: dict[int, NotWaitingBag] = {}
    for order, barcode in rows:
        bags.setdefault(order.id, NotWaitingBag(order, [])).items.append(barcode)
    return list(bags.values())


def effective_deadline(order: Order, calendar: OpeningCalendar) -> dt.date | None:
    """Return the last day the order waits: its deadline, or the next open day after it."""
    return calendar.next_open(order.deadline) if order.deadline else None


def is_overdue(order: Order, calendar: OpeningCalendar, today: dt.date | None = None) -> bool:
    """Return True if the order is on the shelf and its last day has passed."""
    last = effective_deadline(order, calendar)
    return (order.status == OrderStatus.READY and last is not None
            and last < (today or clock.today()))


def clearance_list(session: Session, calendar: OpeningCalendar,
                   today: dt.date | None = None, branch: str | None = None) -> ClearanceList:
    """Return the orders on the shelf (of branch's wall, or every wall) past their deadline
    and those due today, by slot."""
    today = today or clock.today()
    rows = session.scalars(_on_wall(
        select(Order)
        .join(Place, Order.place_id == Place.id).join(Slot).join(Shelf)
        .where(Order.status == OrderStatus.READY, Order.deadline <= today)
        .order_by(Shelf.branch, Shelf.position, Slot.number, Order.shelved_at, Order.id)
        .options(selectinload(Order.items)),  # the list counts each bag's items
        branch)).all()
    overdue, due = [], []
    for order in rows:
        last = effective_deadline(order, calendar)
        if last < today:
            overdue.append(order)
        elif last == today:
            due.append(order)
    return ClearanceList(today, overdue, due)


def clear_bag(session: Session, scanned: str, actor: Actor, calendar: OpeningCalendar,
              today: dt.date | None = None, not_waiting: Collection[str] = (),
              branch: str | None = None) -> Order:
    """Take a scanned bag off the shelf as not collected (expired); its slot place is freed.

    Refuses (with the reason) a scan that is no pickup code, a code with no bag on the
    shelf, and a bag whose deadline has not passed yet: that one goes back on its slot.
    A bag holding an item of not_waiting (no longer waiting in the library system) is
    cleared whatever its deadline, also when one of those item barcodes is scanned.
    """
    code = pickup_codes.parse_code(scanned)
    if code is None and scanned.strip() in not_waiting:
        bags = no_longer_waiting(session, [scanned.strip()], branch)
        if bags:
            order_ops.move(session, bags[0].order, OrderStatus.EXPIRED, actor,
                           NOT_WAITING_DETAIL)
            return bags[0].order
    if code is None:
        raise BadCode(N_("Not a pickup code: %(scanned)s"), {"kind": "not_a_pickup_code"},
                      scanned=scanned.strip()[:40])
    order = order_ops.by_pickup_code(session, code)
    if order is None:
        latest = session.scalar(select(Order).where(Order.pickup_code == code)
                                .order_by(Order.id.desc()).limit(1))
        if latest is not None and latest.status == OrderStatus.EXPIRED:
            raise OrderError(N_("Bag %(code)s was already cleared from %(slot)s"),
                             {"kind": "already_cleared", "pickup_code": code},
                             code=code, slot=latest.slot_label)
        raise NotFound(N_("No bag with pickup code %(code)s is on the shelf"),
                       {"kind": "unknown_code", "pickup_code": code}, code=code)
    if order.status != OrderStatus.READY:
        raise OrderError(N_("Bag %(code)s is not on the shelf (order is %(status)s)"),
                         {"kind": "not_on_shelf", "status": order.status, "pickup_code": code},
                         code=code, status=order.status)
    wall = order.place.slot.branch if order.place is not None else order.branch
    if branch is not None and wall != branch:  # clearance works on one wall at a time
        raise OrderError(N_("Belongs to %(branch)s"),
                         {"kind": "other_branch", "branch": wall, "pickup_code": code},
                         branch=wall)
    if not_waiting and any(i.barcode in not_waiting for i in order.items):
        order_ops.move(session, order, OrderStatus.EXPIRED, actor, NOT_WAITING_DETAIL)
        return order
    if not is_overdue(order, calendar, today):
        last = effective_deadline(order, calendar)
        raise OrderError(N_("Bag %(code)s may wait on %(slot)s until %(day)s; put it back"),
                         {"kind": "not_expired", "deadline": last.isoformat(),
                          "slot": order.slot_label, "pickup_code": code},
                         code=code, slot=order.slot_label, day=last.isoformat())
    order_ops.expire(session, order, actor)
    return order


def anonymise_closed(session: Session, after_days: int, now: dt.datetime | None = None,
                     batch: int = 500) -> int:
    """Drop card and name of orders closed more than after_days ago; return how many.

    Statistics keep working: they come from the orders' statuses and timestamps.
    The library-system queue forgets the card of finished jobs too (checkouts, and the
    hold card a check-in learned).
    """
    cutoff = (now or utcnow()) - dt.timedelta(days=after_days)
    total = 0
    while True:
        done = order_ops.anonymise(session, cutoff, limit=batch)
        session.flush()
        total += done
        if done < batch:
            break
    finished = session.scalars(select(IlsJob).join(Order)
                               .where(and_(IlsJob.state != "queued",
                                           Order.anonymised_at.is_not(None),
                                           IlsJob.card != ""))).all()
    for job in finished:
        job.card = ""
    return total
