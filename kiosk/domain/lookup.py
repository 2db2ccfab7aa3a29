"""What a patron sees after a scan: their bags on the shelf and what is still being packed.

An unknown card and a card with nothing ready give an answer of the same
shape, so card numbers cannot be probed from the public screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import Session

from kiosk.models import Item, Order, OrderStatus


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
    # branches where bags of this card wait ready (`[kiosk] tell_other_branch`), by name
    elsewhere: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Return the result as plain dicts and lists (fast: this runs on every scan)."""
        return {name: _plain(getattr(self, name)) for name in _RESULT_FIELDS}


_RESULT_FIELDS = tuple(f.name for f in fields(LookupResult))


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if is_dataclass(value):
        return {k: _plain(v) for k, v in vars(value).items()}
    return value


NOT_RECOGNISED = "not_recognised"


# An item is in the bag unless the bag was packed short (with a reason, `pack_note`) without
# it: the patron is told the items and titles there are. The outage snapshot uses the same.
IN_BAG = or_(Order.pack_note.is_(None), Item.packed_at.is_not(None))
ITEMS_IN_BAG = (select(func.count(Item.id)).where(Item.order_id == Order.id, IN_BAG)
                .correlate(Order).scalar_subquery())
# Built once: the scan path runs one cached statement instead of composing ORM queries.
_ITEMS = ITEMS_IN_BAG
_OPEN_ORDERS = (
    select(Order.id, Order.status, Order.pickup_code, Order.slot_label, Order.deadline,
           Order.patron_name, _ITEMS.label("items"))
    .where(Order.card == bindparam("card"), Order.branch == bindparam("branch"),
           # OR of plain comparisons, not IN: an IN list is re-rendered on every run
           or_(*(Order.status == s.value for s in (OrderStatus.RECEIVED, OrderStatus.PACKING,
                                                   OrderStatus.READY))))
    .order_by(Order.slot_label, Order.id)
)
_TITLES = (select(Item.order_id, Item.title).join(Order, Item.order_id == Order.id)
           .where(Item.order_id.in_(bindparam("ids", expanding=True)), Item.title.is_not(None),
                  IN_BAG)
           .order_by(Item.id))


# A card's ready bags at other branches: the (card, status, branch) index answers it.
_ELSEWHERE = (select(Order.branch).where(Order.card == bindparam("card"),
                                         Order.status == OrderStatus.READY.value,
                                         Order.branch != bindparam("branch"))
              .distinct().order_by(Order.branch))


def ready_elsewhere(session: Session, card: str, branch: str) -> list[str]:
    """Return the other branches where bags of card wait on the shelf, sorted."""
    return list(session.scalars(_ELSEWHERE, {"card": card, "branch": branch}))


_COMPILED: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}


def _open_orders(session: Session, card: str, branch: str) -> list[tuple]:
    """Run the scan's query on the driver itself, compiled once per database dialect.

    Every scan runs this; going around SQLAlchemy's execution layer makes it
    cost little more than the database's own index lookup.
    """
    engine = session.get_bind()
    dialect = engine.dialect
    entry = _COMPILED.get(dialect.name)
    if entry is None:
        compiled = _OPEN_ORDERS.compile(dialect=dialect)
        order = tuple(compiled.positiontup or ()) if dialect.positional else None
        entry = _COMPILED[dialect.name] = (compiled.string, order, dict(compiled.params))
    sql, order, fixed = entry
    params = {**fixed, "card": card, "branch": branch}
    # A pooled connection of its own: a read needs none of the session's transaction.
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        cursor.execute(sql, tuple(params[k] for k in order) if order is not None else params)
        return cursor.fetchall()
    finally:
        conn.close()


def find_pickups(session: Session, card: str, branch: str, *, show_titles: bool = False,
                 show_names: bool = False) -> LookupResult:
    """Return what the card holder can pick up at this branch now."""
    rows = _open_orders(session, card, branch)
    # columns: id, status, pickup_code, slot_label, deadline, patron_name, items
    ready = [r for r in rows if r[1] == OrderStatus.READY]
    titles: dict[int, list[str]] = {}
    if show_titles and ready:
        for order_id, title in session.execute(_TITLES, {"ids": [r[0] for r in ready]}):
            titles.setdefault(order_id, []).append(title)
    pickups = [
        Pickup(
            order_id=r[0], pickup_code=r[2], slot=r[3] or "", shelf=(r[3] or "").split("-")[0],
            items=r[6], deadline=str(r[4]) if r[4] else None,  # a date, or its ISO text
            titles=titles.get(r[0], []),
        )
        for r in ready
    ]
    waiting = len(rows) - len(ready)
    outcome = "ready" if pickups else ("waiting" if waiting else "nothing")
    name = next((r[5] for r in rows if r[5]), None) if show_names else None
    return LookupResult(outcome=outcome, pickups=pickups, waiting=waiting, name=name)
