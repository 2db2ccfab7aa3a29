"""Tell the stations on a PostgreSQL database that orders changed: NOTIFY kiosk_orders.

After any flush that wrote an order (or an item) on PostgreSQL, and for every batch of
changes the domain announces (kiosk.domain.order_events: also the import's bulk inserts,
which no flush sees), the branches concerned are NOTIFY'd in the same transaction: the
server delivers it at commit, or never when the transaction rolls back. An item's branch
would need a query, so it says "*".
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session

from kiosk.domain import order_events
from kiosk.models import Item, Order

CHANNEL = "kiosk_orders"
EVERY_BRANCH = "*"
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :branch)")


def branches_touched(session: Session) -> set[str]:
    """Return the branches whose orders this flush writes ("*" for an item's)."""
    found: set[str] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if isinstance(obj, Order):
            if obj.branch:
                found.add(obj.branch)
            found.update(b for b in inspect(obj).attrs.branch.history.deleted or () if b)
        elif isinstance(obj, Item):
            found.add(EVERY_BRANCH)
    return found


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    # Noted before the flush: afterwards session.new and the attribute history are reset.
    session.info["outage_branches"] = (session.info.get("outage_branches", set())
                                       | branches_touched(session))


def _after_flush(session: Session, _context: Any) -> None:
    branches = session.info.pop("outage_branches", None)
    if not branches:
        return
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return
    for branch in sorted(branches):
        conn.execute(_NOTIFY, {"branch": branch[:64]})


def _on_changes(session: Session, changes: Sequence[order_events.OrderChange]) -> None:
    session.info["outage_branches"] = (session.info.get("outage_branches", set())
                                       | {c.branch for c in changes if c.branch})
    if not session.new and not session.dirty and not session.deleted:  # no flush to come
        _after_flush(session, None)


def install() -> None:
    """Listen to every session's flushes and the domain's changes (once per process)."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)
    order_events.subscribe(_on_changes)
