"""Pickup: what collecting a bag did, item by item, and collecting without a library system.

Every door (the kiosk's "I have collected it", the staff desk, `POST /api/v1/orders/<id>/
collect`) calls `Station.collect`; with a library system hooked in (`kiosk.ils`), that lends
the items first, otherwise it is `collect` here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sqlalchemy.orm import Session

from kiosk.domain import order_writes
from kiosk.domain import orders as order_ops
from kiosk.models import Order


@dataclass
class ItemOutcome:
    """One item at pickup: lent (with due date), queued for the ILS, or refused."""

    barcode: str
    state: str  # "lent" | "queued" | "refused"
    due_date: str | None = None
    message: str | None = None


@dataclass
class PickupOutcome:
    """What pickup did to an order, for the screen."""

    order_id: int
    collected: bool
    items: list[ItemOutcome] = field(default_factory=list)
    ils: str = "none"  # "none" | "online" | "offline"

    @property
    def refused(self) -> list[ItemOutcome]:
        return [i for i in self.items if i.state == "refused"]

    def as_dict(self) -> dict:
        return {**asdict(self), "refused": [asdict(i) for i in self.refused]}


def collect(session: Session, order: Order, actor: order_ops.Actor,
            detail: str | None = None) -> PickupOutcome:
    """Mark a ready order collected and commit (an order not on a shelf raises OrderError)."""
    # lost to a change made at the same moment: ChangedMeanwhile (409), nothing kept
    order_writes.commit_work(session, lambda: order_ops.collect(session, order, actor, detail))
    return PickupOutcome(order.id, True)
