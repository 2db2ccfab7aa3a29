"""Listeners told of every order created or moved to another status, in the same session.

The domain functions (`orders.create_order`, `orders.move`, `shelving.shelve`,
`shelving.unshelve`, the import) call `changed` with the session and a batch of
`OrderChange`s once the change is made and before anything is committed. A
listener may add rows to that session (the webhooks' outbox), so they land in the
same transaction as the change, or not at all. Integrations subscribe here; the
domain never imports them. `imported` tells listeners how long an import took.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kiosk import clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OrderChange:
    """One order's new status (previous None: just created), with what receivers show."""

    order_id: int
    status: str
    previous: str | None
    ref: str | None
    branch: str
    pickup_code: str
    slot: str | None
    last_day: dt.date | None
    station: str
    card: str | None = None
    patron_name: str | None = None
    at: dt.datetime = field(default_factory=clock.now)

    @classmethod
    def of(cls, order: Any, station: str, previous: str | None) -> OrderChange:
        """Describe an Order (already flushed, so it has an id) after its change."""
        return cls(order_id=order.id, status=str(order.status), previous=previous,
                   # a cancelled order has handed its ref on (cancelled_ref): receivers
                   # still know the order by it
                   ref=order.ref or getattr(order, "cancelled_ref", None),
                   branch=order.branch, pickup_code=order.pickup_code,
                   slot=order.slot_label, last_day=order.deadline,
                   station=station, card=order.card, patron_name=order.patron_name)


Listener = Callable[[Session, Sequence[OrderChange]], None]
ImportListener = Callable[[int, float], None]

_listeners: list[Listener] = []
_import_listeners: list[ImportListener] = []


def subscribe(listener: Listener) -> None:
    """Call listener(session, changes) on every batch of changes (once per listener)."""
    if listener not in _listeners:
        _listeners.append(listener)


def subscribe_imports(listener: ImportListener) -> None:
    """Call listener(orders, seconds) after each import that wrote orders."""
    if listener not in _import_listeners:
        _import_listeners.append(listener)


def listening() -> bool:
    """Return True when any listener wants changes (else callers need not describe them)."""
    return bool(_listeners)


def changed(session: Session, changes: Sequence[OrderChange]) -> None:
    """Tell every listener of changes; a listener's error fails the change (same transaction)."""
    if not changes:
        return
    for listener in list(_listeners):
        listener(session, changes)


def order_changed(session: Session, order: Any, station: str, previous: str | None) -> None:
    """Tell listeners that order was created (previous None) or moved from previous."""
    if _listeners:
        changed(session, [OrderChange.of(order, station, previous)])


def imported(orders: int, seconds: float) -> None:
    """Tell the import listeners how many orders an import wrote and how long it took."""
    for listener in list(_import_listeners):
        try:
            listener(orders, seconds)
        except Exception:  # a counter must not fail an import that has landed
            log.exception("import listener failed")
