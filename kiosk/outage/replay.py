"""Apply the journal's pending collects to the database once it is back, each exactly once.

- A bag still ready is collected through `Station.collect`, as if pressed now (so lending,
  webhooks and the audit trail follow), with a note saying when it really was.
- A bag already collected (at the desk meanwhile, or by this replay before a crash that
  left its row pending) is left as it is: the row is just marked done.
- A bag cleared, cancelled or taken off the shelf meanwhile is recorded as collected all
  the same (the patron has it), with a note for staff saying what it had become; its
  items are not lent through the library system, which the note asks staff to check.
- An order no longer in the database is marked done with that outcome, and logged.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from kiosk.domain import audit, order_events
from kiosk.domain import orders as order_ops
from kiosk.domain.orders import OrderError
from kiosk.localtime import local_time
from kiosk.models import Order, OrderStatus, utcnow
from kiosk.outage.journal import Entry, Journal
from kiosk.outage.state import unreachable

log = logging.getLogger(__name__)

COLLECTED, ALREADY, LATE, GONE, REFUSED = (
    "collected", "already collected", "collected after it had become", "order gone",
    "not collected: the library system refused")


@dataclass
class ReplayReport:
    """What one replay did, by journal entry id; `stopped` when the database failed again.

    `failed`: entries an error other than a lost database kept pending (tried again later).
    """

    applied: dict[int, str] = field(default_factory=dict)
    failed: list[int] = field(default_factory=list)
    stopped: bool = False


def replay(journal: Journal, station: Any,
           scope: Callable[[], AbstractContextManager[Session]]) -> ReplayReport:
    """Apply every pending collect in order; stop at the first database failure."""
    report = ReplayReport()
    for entry in journal.pending():
        try:
            with scope() as session:
                try:
                    outcome = apply(session, entry, station)
                except BaseException:
                    session.rollback()
                    raise
        except Exception as exc:
            if unreachable(exc):
                log.warning("replay of outage collects paused at order %s: %s",
                            entry.order_id, exc)
                report.stopped = True
                break
            # Not the line: a rule or a race. The entry stays pending, is tried again at
            # the next refresh, and shows in /healthz and /metrics until it goes through.
            log.exception("outage collect of order %s could not be applied", entry.order_id)
            report.failed.append(entry.id)
            continue
        journal.done(entry, outcome)
        report.applied[entry.id] = outcome
        log.info("outage collect of order %s applied: %s", entry.order_id, outcome)
    return report


def apply(session: Session, entry: Entry, station: Any) -> str:
    """Apply one journal entry to the database and commit; return what it did."""
    order = session.get(Order, entry.order_id)
    if order is None:
        return GONE
    at = local_time(dt.datetime.fromtimestamp(entry.at, dt.UTC))
    actor = order_ops.Actor("kiosk", entry.station)
    if order.status == OrderStatus.COLLECTED:
        return ALREADY
    if order.status == OrderStatus.READY:
        try:
            outcome = station.collect(session, order, entry.card, actor,
                                      audit.detail("offline_collect", at=at))
        except OrderError as exc:  # a rule said no: record it like a late one
            session.rollback()
            log.info("outage collect of order %s: %s", entry.order_id, exc)
            return _record_late(session, session.get(Order, entry.order_id), actor, at)
        return COLLECTED if outcome.collected else REFUSED
    return _record_late(session, order, actor, at)


def _record_late(session: Session, order: Order | None, actor: order_ops.Actor,
                 at: str) -> str:
    """Record order as collected although it was no longer ready, with a note for staff."""
    if order is None:
        return GONE
    previous = str(order.status)
    if previous == OrderStatus.COLLECTED:
        return ALREADY
    # Past the usual moves on purpose: the patron has the bag; staff should know so.
    order_ops.record(session, order, actor, OrderStatus.COLLECTED.value,
                     to_status=OrderStatus.COLLECTED.value,
                     detail=audit.detail("offline_collect_late", at=at, status=previous))
    order.place, order.place_id = None, None
    order.status, order.closed_at = OrderStatus.COLLECTED.value, utcnow()
    order_events.order_changed(session, order, actor.station, previous)
    session.commit()
    return f"{LATE} {previous}"
