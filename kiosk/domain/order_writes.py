"""Writing order changes, compare and set: of two changes of one order made at once, one lands.

Every door reads an order, decides, and writes through `commit_work` (or `commit`). The
order's version column (kiosk.models.Order, migration 0009) makes the ORM write
`UPDATE orders ... WHERE id = :id AND version = :seen`; when another change landed in
between, no row matches, StaleDataError is raised, the whole transaction (audit rows,
webhook outbox rows, ILS jobs) is rolled back, and the caller gets ChangedMeanwhile: a 409
naming the status the winner left, as a sequential loser gets a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from kiosk.domain.messages import N_
from kiosk.domain.orders import ALLOWED, OrderError, refuse_if_being_collected
from kiosk.models import Order, OrderStatus, utcnow

T = TypeVar("T")


class ChangedMeanwhile(OrderError):
    """Another change of the order landed between reading it and writing this one."""

    status_code = 409


def changed_meanwhile(session: Session, order_id: int | None) -> ChangedMeanwhile:
    """Return the 409 for a change that lost to another one (the order's state now in detail).

    Call it after rolling back: it reads the order's status as the winner left it.
    """
    status = session.scalar(select(Order.status).where(Order.id == order_id)) \
        if order_id is not None else None
    return ChangedMeanwhile(
        N_("Order %(order)s was changed by someone else at the same moment (it is now "
           "%(status)s); nothing was done"),
        {"status": status, "kind": "changed_meanwhile"}, order=order_id, status=status)


@event.listens_for(Session, "before_flush")
def _note_orders(session: Session, _context: object, _instances: object) -> None:
    """Keep the id and version read of each order a flush writes: a failed flush forgets
    its objects' state, and the conflict's answer names the order."""
    session.info["orders_flushed"] = {
        o.id: o.__dict__["version"] for o in session.dirty
        if isinstance(o, Order) and o.id is not None and "version" in o.__dict__}


def orders_in_play(session: Session) -> dict[int, int]:
    """Return {id: version read} of the orders this session is changing (last flush first)."""
    found = dict(session.info.get("orders_flushed") or {})
    for key, obj in list(session.identity_map.items()):
        if key[0] is Order and "version" in obj.__dict__ and session.is_modified(
                obj, include_collections=False):
            found.setdefault(key[1][0], obj.__dict__["version"])
    return found


def commit(session: Session, work: Callable[[], object] = lambda: None) -> None:
    """Run work and commit once; a change that lost to one made at the same moment (also
    found by a flush inside work) is rolled back and raises ChangedMeanwhile."""
    session.info.pop("orders_flushed", None)
    try:
        work()
        session.commit()
    except StaleDataError as exc:
        ids = list(orders_in_play(session))
        session.rollback()
        raise changed_meanwhile(session, ids[0] if ids else None) from exc


_RETRYABLE = ("database is locked", "could not serialize", "deadlock detected")


def commit_work(session: Session, work: Callable[[], T], attempts: int = 8) -> T:
    """Run work and commit; on a lock or serialization conflict roll back and run it again.

    Compare and set: work decides on the orders as it read them. Should another change of
    one of them land first (its version moved on), nothing is written and ChangedMeanwhile
    (409) is raised, also when the other change landed while this one waited to try again.
    """
    seen: dict[int, int] = {}
    session.info.pop("orders_flushed", None)
    for attempt in range(attempts):
        try:
            result = work()
            _still_as_seen(session, seen)
            session.commit()
            return result
        except StaleDataError as exc:
            ids = list(orders_in_play(session))
            session.rollback()
            raise changed_meanwhile(session, ids[0] if ids else None) from exc
        except OperationalError as exc:
            seen = {**orders_in_play(session), **seen}
            session.rollback()
            if attempt == attempts - 1 or not any(s in str(exc) for s in _RETRYABLE):
                raise
        except Exception:
            session.rollback()
            raise
    raise AssertionError("unreachable")


def _still_as_seen(session: Session, seen: dict[int, int]) -> None:
    """Raise ChangedMeanwhile if an order an earlier attempt changed has moved on since."""
    for order_id, version in seen.items():
        order = session.identity_map.get(identity_key(Order, order_id))
        if order is not None and order.__dict__.get("version", version) != version:
            session.rollback()
            raise changed_meanwhile(session, order_id)


def start_collecting(order: Order) -> None:
    """Claim a ready order for a collect that lends its items (commit to make it hold).

    Until `end_collecting`, every other status change of the order is refused; a second
    collect too. An order that cannot be collected is refused here, before anything is lent.
    """
    refuse_if_being_collected(order)
    if OrderStatus.COLLECTED not in ALLOWED[order.status]:
        raise OrderError(N_("Order %(order)s is %(status)s and cannot become %(wanted)s"),
                         {"status": order.status, "wanted": OrderStatus.COLLECTED},
                         order=order.id, status=order.status, wanted=OrderStatus.COLLECTED)
    order.collecting_since = utcnow()


def end_collecting(order: Order) -> None:
    """Let go of a collect's claim (the collect has ended, collected or not)."""
    order.collecting_since = None
