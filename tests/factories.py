"""Small object factories for tests (in the manner of CTFd's gen_* helpers)."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from kiosk.domain import orders as order_ops
from kiosk.domain import shelving
from kiosk.models import Order

ACTOR = order_ops.Actor("tester", "Test station")
_numbers = itertools.count(1)


def card_number(n: int | None = None) -> str:
    """Return a valid Norwegian library card number."""
    return f"N{(n if n is not None else next(_numbers)):09d}"


def make_order(session: Session, card: str | None = None, items: int = 2, *,
               branch: str = "main", ref: str | None = None, slot: str | None = None,
               status: str | None = None, station=None, titles: bool = True) -> Order:
    """Create an order; shelve it on `slot` or move it to `status` if asked; commit."""
    n = next(_numbers)
    new = order_ops.NewOrder(
        card=card or card_number(), branch=branch, ref=ref,
        items=tuple(order_ops.NewItem(f"0300{n:06d}{i}", f"Bok {n}.{i}" if titles else None)
                    for i in range(items)),
    )
    order = order_ops.create_order(session, new, ACTOR)
    if slot:
        shelving.shelve(session, order, shelving.get_slot(session, slot, branch), ACTOR,
                        station.calendar, 7)
    if status and status != order.status:
        order_ops.move(session, order, status, ACTOR)
    session.commit()
    return order
