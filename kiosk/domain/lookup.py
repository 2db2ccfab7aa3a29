"""What a patron sees after a scan: their bags on the shelf and what is still being packed.

An unknown card and a card with nothing ready give an answer of the same
shape, so card numbers cannot be probed from the public screen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kiosk.models import Order, OrderStatus


@dataclass
class Pickup:
    """One bag on the shelf: where, under which code, how many items, until when."""

    order_id: int
    pickup_code: str
    slot: str
    shelf: str
    items: int
    deadline: str | None
    titles: list[str] = field(default_factory=list)


@dataclass
class LookupResult:
    """The patron's view: bags ready, and how many orders are still being packed."""

    outcome: str  # "ready" | "waiting" | "nothing" | "not_recognised"
    pickups: list[Pickup] = field(default_factory=list)
    waiting: int = 0
    name: str | None = None
    notices: list[str] = field(default_factory=list)
    offer: dict | None = None

    def as_dict(self) -> dict:
        return asdict(self)


NOT_RECOGNISED = "not_recognised"


def find_pickups(session: Session, card: str, branch: str, *, show_titles: bool = False,
                 show_names: bool = False) -> LookupResult:
    """Return what the card holder can pick up at this branch now."""
    orders = session.scalars(
        select(Order)
        .where(Order.card == card, Order.branch == branch,
               Order.status.in_((OrderStatus.RECEIVED, OrderStatus.PACKING, OrderStatus.READY)))
        .options(selectinload(Order.items))
        .order_by(Order.slot_label, Order.id)
    ).all()
    ready = [o for o in orders if o.status == OrderStatus.READY]
    pickups = [
        Pickup(
            order_id=o.id, pickup_code=o.pickup_code, slot=o.slot_label or "",
            shelf=(o.slot_label or "").split("-")[0], items=len(o.items),
            deadline=o.deadline.isoformat() if o.deadline else None,
            titles=[i.title for i in o.items if i.title] if show_titles else [],
        )
        for o in ready
    ]
    waiting = len(orders) - len(ready)
    outcome = "ready" if pickups else ("waiting" if waiting else "nothing")
    name = next((o.patron_name for o in orders if o.patron_name), None) if show_names else None
    return LookupResult(outcome=outcome, pickups=pickups, waiting=waiting, name=name)
