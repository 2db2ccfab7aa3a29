"""Orders through their life: received → packing → ready (on a slot) → collected.

Plain functions over a SQLAlchemy session, shared by the kiosk, staff pages,
the API and the CLI. Each function checks the move is allowed, records who made
it in the audit trail, and leaves committing to the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.domain import audit, order_events, pickup_codes
from kiosk.domain.cards import mask
from kiosk.domain.identifiers import text_problem
from kiosk.domain.messages import N_, Nn_, StationError
from kiosk.models import ACTIVE_STATUSES, AuditEvent, Item, Order, OrderStatus, utcnow

S = OrderStatus

ALLOWED: dict[str, set[str]] = {
    S.RECEIVED: {S.PACKING, S.READY, S.CANCELLED},
    S.PACKING: {S.RECEIVED, S.READY, S.CANCELLED},
    S.READY: {S.READY, S.PACKING, S.COLLECTED, S.EXPIRED, S.CANCELLED},
    S.COLLECTED: set(),
    S.EXPIRED: set(),
    S.CANCELLED: set(),
}


class OrderError(StationError):
    """A request the order's state or data does not allow; the message says why.

    message is a template with `%(name)s` placeholders filled from params (see
    kiosk.domain.messages); detail goes to API clients as it is.
    """

    status_code = 409

    def __init__(self, message: str, detail: object = None, **params: object):
        super().__init__(message, **params)
        self.detail = detail


class NotFound(OrderError):
    status_code = 404


class BadText(OrderError):
    """Free text (a packing note) holding a character that cannot be shown or stored."""

    status_code = 400


@dataclass(frozen=True)
class Actor:
    """Who makes a change, and at which station: goes into the audit trail."""

    name: str
    station: str


@dataclass(frozen=True, slots=True)
class NewItem:
    barcode: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class NewOrder:
    card: str
    items: tuple[NewItem, ...]
    branch: str
    ref: str | None = None
    patron_name: str | None = None


def record(session: Session, order: Order, actor: Actor, action: str,
           to_status: str | None = None, detail: str | None = None,
           from_status: str | None = None) -> None:
    """Add an audit event for order."""
    session.add(AuditEvent(
        order=order, actor=actor.name, station=actor.station, action=action,
        from_status=from_status or order.status, to_status=to_status or order.status,
        detail=detail,
    ))


# How long a collect's claim keeps other changes off the order: far longer than lending
# takes (each checkout is bounded by [ils] timeout_s), short enough that an order a dead
# station had claimed is free again soon.
COLLECTING_FOR = dt.timedelta(minutes=3)


def being_collected(order: Order) -> bool:
    """Return True while a collect is lending the order's items (its claim not yet old)."""
    since = order.collecting_since
    if since is None:
        return False
    since = since if since.tzinfo else since.replace(tzinfo=dt.UTC)  # SQLite: naive UTC
    return utcnow() - since < COLLECTING_FOR


def refuse_if_being_collected(order: Order) -> None:
    """Raise OrderError while a collect is lending the order's items."""
    if being_collected(order):
        raise OrderError(N_("Order %(order)s is being collected at the entrance right now"),
                         {"status": order.status, "kind": "being_collected"}, order=order.id)


def move(session: Session, order: Order, to: str, actor: Actor, detail: str | None = None) -> None:
    """Change an order's status if the move is allowed, with an audit event."""
    refuse_if_being_collected(order)
    if to not in ALLOWED[order.status]:
        raise OrderError(N_("Order %(order)s is %(status)s and cannot become %(wanted)s"),
                         {"status": order.status, "wanted": to},
                         order=order.id, status=order.status, wanted=to)
    if to == S.CANCELLED and order.ref:
        # A cancelled order frees its ref (kept as cancelled_ref) for a corrected import.
        order.cancelled_ref, order.ref = order.ref, None
        detail = audit.join(detail, audit.detail("ref_freed", ref=order.cancelled_ref))
    record(session, order, actor, to, to_status=to, detail=detail)
    if to != S.READY:
        order.place = None
        order.place_id = None
    if to in (S.COLLECTED, S.EXPIRED, S.CANCELLED):
        order.closed_at = utcnow()
    previous, order.status = order.status, to
    if previous != to:
        order_events.order_changed(session, order, actor.station, previous)


def _ref_taken(session: Session, ref: str | None) -> OrderError | None:
    """Return the error for a ref another order has already (its id in the detail), or None."""
    existing = session.scalar(select(Order.id).where(Order.ref == ref)) if ref else None
    if existing is None:
        return None
    return OrderError(N_("An order with ref %(ref)s exists already"),
                      {"ref": ref, "id": existing}, ref=ref)


def create_order(session: Session, new: NewOrder, actor: Actor, source: str = "import",
                 attempts: int = 20) -> Order:
    """Add an order with a fresh pickup code (unique among open orders) and flush it."""
    if not new.items:
        raise OrderError(N_("An order needs at least one item"))
    barcodes = [i.barcode for i in new.items]
    if len(set(barcodes)) != len(barcodes):
        raise OrderError(N_("The same item barcode appears twice in one order"))
    taken = _ref_taken(session, new.ref)
    if taken:
        raise taken
    for _ in range(attempts):
        code = pickup_codes.new_code()
        order = Order(
            ref=new.ref, card=new.card, branch=new.branch, patron_name=new.patron_name,
            pickup_code=code, status=S.RECEIVED, source=source,
            items=[Item(barcode=i.barcode, title=i.title) for i in new.items],
        )
        try:
            with session.begin_nested():
                session.add(order)
                session.flush()
        except IntegrityError as exc:
            taken = _ref_taken(session, new.ref)
            if taken:
                raise taken from exc
            continue  # pickup code taken by an open order: draw again
        record(session, order, actor, "created", detail=audit.detail("items", num=len(new.items)))
        order_events.order_changed(session, order, actor.station, None)
        return order
    raise OrderError(N_("Could not find a free pickup code; too many open orders"))


def correct(session: Session, order: Order, actor: Actor, *, branch: str | None = None,
            card: str | None = None, branches: Collection[str] | None = None) -> list[str]:
    """Correct the branch and/or the (normalised) card of an order not yet collected.

    A new branch must be one of branches (the library's known branches) when given; a
    bag on a shelf keeps its branch (take it off first). The change goes into the audit
    trail (cards masked); returns what changed (nothing: no audit event).
    """
    if order.status not in ACTIVE_STATUSES:
        raise OrderError(N_("Order %(order)s is %(status)s and cannot be corrected"),
                         {"status": order.status}, order=order.id, status=order.status)
    changes: list[str] = []
    details: list[str] = []
    if branch is not None and branch.strip() and branch.strip() != order.branch:
        branch = branch.strip()
        if branches is not None and branch not in branches:
            raise OrderError(N_("Unknown branch %(branch)s (the library's branches: "
                                "%(known)s)"), {"branch": branch},
                             branch=branch, known=", ".join(sorted(branches)))
        if order.status == S.READY:
            raise OrderError(N_("Order %(order)s is on a shelf: take it off the shelf before "
                                "moving it to another branch"), order=order.id)
        changes.append(f"branch {order.branch} → {branch}")
        details.append(audit.detail("branch_changed", old=order.branch, new=branch))
        order.branch = branch
    if card is not None and card != order.card:
        if not card:
            raise OrderError(N_("That is not a valid patron card number."))
        old = mask(order.card) if order.card else "-"
        changes.append(f"card {old} → {mask(card)}")
        details.append(audit.detail("card_changed", old=old, new=mask(card)))
        order.card = card
    if changes:
        record(session, order, actor, "corrected", detail=audit.join(*details))
    return changes


def get(session: Session, order_id: int) -> Order:
    """Return the order or raise NotFound."""
    order = session.get(Order, order_id)
    if order is None:
        raise NotFound(N_("No order %(order)s"), order=order_id)
    return order


def by_pickup_code(session: Session, code: str) -> Order | None:
    """Return the open order with this pickup code, if any."""
    canonical = pickup_codes.parse_code(code)
    if canonical is None:
        return None
    return session.scalar(select(Order).where(
        Order.pickup_code == canonical, Order.status.in_([s.value for s in ACTIVE_STATUSES])))



def start_packing(session: Session, order: Order, actor: Actor) -> None:
    """Mark an order as being packed."""
    if order.status != S.PACKING:
        move(session, order, S.PACKING, actor)


def pack_item(session: Session, order: Order, barcode: str, actor: Actor) -> Item:
    """Scan one item into the bag; a wrong or repeated item raises OrderError."""
    item = next((i for i in order.items if i.barcode == barcode.strip()), None)
    if item is None:
        raise OrderError(N_("Item %(barcode)s does not belong to order %(code)s"),
                         {"barcode": barcode, "kind": "wrong_item"},
                         barcode=barcode, code=order.pickup_code)
    if item.packed_at is not None:
        raise OrderError(N_("Item %(barcode)s is already in the bag"),
                         {"barcode": barcode, "kind": "duplicate_item"}, barcode=barcode)
    # One copy cannot be in two bags: an order imported twice lists it twice (issue 29).
    other = session.scalar(
        select(Order.pickup_code).join(Item, Item.order_id == Order.id)
        .where(Item.barcode == item.barcode, Item.packed_at.is_not(None), Order.id != order.id,
               Order.status.in_([s.value for s in ACTIVE_STATUSES])).limit(1))
    if other is not None:
        raise OrderError(N_("Item %(barcode)s is already packed in another bag (pickup code "
                            "%(other)s); check which order it belongs to"),
                         {"barcode": barcode, "kind": "packed_elsewhere", "pickup_code": other},
                         barcode=barcode, other=other)
    start_packing(session, order, actor)
    item.packed_at = utcnow()
    return item


def missing_items(order: Order) -> list[Item]:
    """Return the items not yet scanned into the bag."""
    return [i for i in order.items if i.packed_at is None]


def finish_packing(session: Session, order: Order, actor: Actor,
                   override_reason: str | None = None) -> None:
    """Mark the bag packed; missing items block this unless a reason is given.

    Packing a bag already packed changes nothing (a double click on "Packed").
    """
    if order.packed_at is not None:
        return
    missing = missing_items(order)
    problem = text_problem(override_reason, "reason") if missing else None
    if problem:  # the note is shown on staff pages and in the order's history
        raise BadText(problem[0], {"kind": "bad_text"}, **problem[1])
    if missing and not (override_reason and override_reason.strip()):
        raise OrderError(Nn_("%(num)d item not packed", "%(num)d items not packed"),
                         {"missing": [i.barcode for i in missing], "kind": "missing_items"},
                         num=len(missing))
    if order.status == S.RECEIVED:
        move(session, order, S.PACKING, actor)
    order.packed_at = utcnow()
    if missing:
        order.pack_note = override_reason
    record(session, order, actor, "packed",
           detail=audit.detail("without_items", reason=override_reason) if missing else None)


def collect(session: Session, order: Order, actor: Actor, detail: str | None = None) -> None:
    """Mark an order collected; its slot place is freed."""
    move(session, order, S.COLLECTED, actor, detail)


def cancel(session: Session, order: Order, actor: Actor, detail: str | None = None) -> None:
    """Cancel an open order; its slot place is freed."""
    move(session, order, S.CANCELLED, actor, detail)


def expire(session: Session, order: Order, actor: Actor) -> None:
    """Mark a shelved order as not collected in time (cleared from the shelf)."""
    move(session, order, S.EXPIRED, actor, audit.detail("cleared"))


def anonymise(session: Session, before: dt.datetime, limit: int = 1000) -> int:
    """Drop the card and name of orders closed before `before`; return how many."""
    rows = session.scalars(select(Order).where(
        Order.closed_at < before, Order.anonymised_at.is_(None)).limit(limit)).all()
    now = utcnow()
    for order in rows:
        order.card = None
        order.patron_name = None
        order.anonymised_at = now
    return len(rows)
