"""Item bags: shelving by item when the ILS keeps the holds (`[ils] holds_from_ils`).

Staff check items in at the ILS, scan each item barcode at the station (several
items may go into one bag), then the slot label. The station records the bag as an
order with `source="ils"` and no card: the ILS knows whose hold each item is, and
the scan-time hook (kiosk.ils.holds) finds the bag by its items' barcodes. The bag
gets a pickup code like any order, so a bag label can be printed and scanned later.
Plain functions over a session; the caller commits.
"""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.domain import audit, pickup_codes, shelving
from kiosk.domain import orders as order_ops
from kiosk.domain.messages import N_
from kiosk.domain.orders import Actor, OrderError
from kiosk.models import Item, Order, OrderStatus, utcnow

SOURCE = "ils"
OPEN = (OrderStatus.RECEIVED, OrderStatus.PACKING, OrderStatus.READY)
# Item barcodes: letters, digits and a few separators, as printed on library items.
ITEM_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:/-]{2,63}$")


def parse_item(text: str) -> str | None:
    """Return a scanned item barcode without surrounding blanks, or None if it is none."""
    barcode = (text or "").strip()
    if (not ITEM_RE.match(barcode) or pickup_codes.parse_code(barcode) is not None
            or shelving.parse_label(barcode) is not None):  # a bag or a slot label
        return None
    return barcode


def is_item_bag(order: Order) -> bool:
    """Return True for a bag shelved by item (an order made at the station for the ILS)."""
    return order.source == SOURCE


def bag_with_item(session: Session, barcode: str, branch: str) -> Order | None:
    """Return the open order at branch that holds this item, if any."""
    return session.scalar(
        select(Order).join(Item, Item.order_id == Order.id)
        .where(Item.barcode == barcode, Order.branch == branch,
               Order.status.in_([s.value for s in OPEN]))
        .order_by(Order.id.desc()).limit(1))


def start(session: Session, barcode: str, branch: str, actor: Actor) -> Order:
    """Start an item bag holding one item, packed and ready for its slot; flush it."""
    other = bag_with_item(session, barcode, branch)
    if other is not None:
        raise OrderError(N_("Item %(barcode)s is already in bag %(code)s"),
                         {"kind": "in_other_bag", "pickup_code": other.pickup_code,
                          "order_id": other.id}, barcode=barcode, code=other.pickup_code)
    new = order_ops.NewOrder(card=None, branch=branch,  # type: ignore[arg-type]
                             items=(order_ops.NewItem(barcode),))
    order = order_ops.create_order(session, new, actor, source=SOURCE)
    order_ops.start_packing(session, order, actor)
    now = utcnow()
    order.items[0].packed_at = now
    order.packed_at = now
    order_ops.record(session, order, actor, "packed",
                     detail=audit.detail("item_bag", barcode=barcode))
    session.flush()
    return order


def add(session: Session, order: Order, barcode: str, actor: Actor) -> Item:
    """Put one more item in an item bag; refuse an item already in this or another bag."""
    if not is_item_bag(order):
        raise OrderError(N_("Bag %(code)s is an order, not an item bag"),
                         {"kind": "not_item_bag"}, code=order.pickup_code)
    if order.status not in OPEN:
        raise OrderError(N_("Bag %(code)s is %(status)s"),
                         {"kind": "closed", "status": order.status},
                         code=order.pickup_code, status=order.status)
    if any(i.barcode == barcode for i in order.items):
        raise OrderError(N_("Item %(barcode)s is already in this bag"),
                         {"kind": "duplicate_item", "pickup_code": order.pickup_code},
                         barcode=barcode)
    other = bag_with_item(session, barcode, order.branch)
    if other is not None:
        raise OrderError(N_("Item %(barcode)s is already in bag %(code)s"),
                         {"kind": "in_other_bag", "pickup_code": other.pickup_code,
                          "order_id": other.id}, barcode=barcode, code=other.pickup_code)
    item = Item(barcode=barcode, packed_at=utcnow())
    order.items.append(item)
    order_ops.record(session, order, actor, "item_added",
                     detail=audit.detail("item", barcode=barcode))
    session.flush()
    return item
