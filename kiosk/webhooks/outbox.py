"""The webhooks' durable outbox: one row per event and receiver, written with the change.

`write` is subscribed to `kiosk.domain.order_events`: it adds the rows with one Core
bulk insert to the session that made the change, so an event exists exactly when its
change was committed. Each row keeps its `msg_id` (the `webhook-id` header) for all
its attempts, so a receiver can drop a repeat.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import CheckConstraint, DateTime, Index, Integer, String, Text, insert, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from kiosk.domain.order_events import OrderChange
from kiosk.extensions import db
from kiosk.models import Order, utcnow

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
EVENT_TYPES = ("order.received", "order.ready", "order.collected", "order.expired",
               "order.cancelled")
_BY_STATUS = {"ready": "order.ready", "collected": "order.collected",
              "expired": "order.expired", "cancelled": "order.cancelled"}


class WebhookDelivery(db.Model):
    """One event for one receiver: pending until a 2xx answer, failed after 24 h of retries."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'delivered', 'failed')", name="webhook_state"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_order", "endpoint", "order_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(64), unique=True)
    endpoint: Mapped[str] = mapped_column(String(500))
    event_type: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Endpoint:
    """One `[[webhooks]]` entry, its secret read."""

    url: str
    secret: str
    events: frozenset[str]
    timeout_s: float
    include_patron: bool = False


def event_type(change: OrderChange) -> str | None:
    """Return the webhook event of a change, or None for a move no receiver hears of."""
    if change.previous is None:
        return "order.received"
    return _BY_STATUS.get(change.status)


def payload(change: OrderChange, kind: str, include_patron: bool) -> dict[str, Any]:
    """Return the JSON body of an event: type, time and the order as receivers see it."""
    data: dict[str, Any] = {
        "order_id": change.order_id, "ref": change.ref, "branch": change.branch,
        "status": change.status, "pickup_code": change.pickup_code, "slot": change.slot,
        # the wall the bag is on: shelving takes only a bag of the slot's own branch
        "slot_branch": change.branch if change.slot else None,
        "last_day": change.last_day.isoformat() if change.last_day else None,
        "station": change.station,
    }
    if include_patron:
        data["card"] = change.card
        data["patron_name"] = change.patron_name
    stamp = change.at.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return {"type": kind, "timestamp": stamp.replace("+00:00", "Z"), "data": data}


def rows_for(changes: Sequence[OrderChange], endpoints: Sequence[Endpoint],
             now: dt.datetime) -> list[dict[str, Any]]:
    """Return the outbox rows of changes for every endpoint that wants their event."""
    rows = []
    for change in changes:
        kind = event_type(change)
        if kind is None:
            continue
        for ep in endpoints:
            if kind in ep.events:
                rows.append({
                    "msg_id": f"msg_{uuid.uuid4().hex}", "endpoint": ep.url,
                    "event_type": kind, "order_id": change.order_id,
                    "payload": json.dumps(payload(change, kind, ep.include_patron),
                                          separators=(",", ":"), ensure_ascii=False),
                    "state": PENDING, "attempts": 0, "created_at": now,
                    "next_attempt_at": now,
                })
    return rows


def write(session: Session, changes: Sequence[OrderChange]) -> None:
    """Add the outbox rows of changes to session (same transaction), for the current app."""
    if not has_app_context():
        return
    hooks = current_app.extensions.get("webhooks")
    if hooks is None or not hooks.endpoints:
        return
    rows = rows_for(changes, hooks.endpoints, utcnow())
    if rows:
        session.execute(insert(WebhookDelivery.__table__), rows)


# How a card or name looks in a stored payload (compact JSON, as rows_for writes it).
_PATRON_MARKS = ('"card":"', '"patron_name":"')


def forget_patrons(session: Session, batch: int = 500) -> int:
    """Drop card and name from the outbox rows of anonymised orders; return how many rows.

    Run with `kiosk anonymise` and the hourly job, right after the orders themselves: an
    event that still waits is sent later without them, with the same webhook-id.
    """
    W = WebhookDelivery
    total = 0
    while True:
        rows = session.scalars(
            select(W).join(Order, Order.id == W.order_id)
            .where(Order.anonymised_at.is_not(None),
                   or_(*(W.payload.contains(mark) for mark in _PATRON_MARKS)))
            .order_by(W.id).limit(batch)).all()
        for row in rows:
            body = json.loads(row.payload)
            body["data"]["card"] = body["data"]["patron_name"] = None
            row.payload = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        session.flush()
        total += len(rows)
        if len(rows) < batch:
            return total
