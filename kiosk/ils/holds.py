"""Holds looked up in the ILS at scan time (`[ils] holds_from_ils`), and reconciliation.

On a scan the station asks 63 Patron Information with the hold-items summary and
reads the items waiting for pickup (AS fields of 64). Each such item that a slot
holds (an item of a ready order on a shelf of this branch) is shown with its slot,
whatever the order's card says; an item waiting but on no slot is "ask at the desk",
never hidden. When the answer names a pickup location (BS) that is not this
station's (`[ils] pickup_locations`, or the branch), its holds are not counted here.
Names from the ILS are never copied into the answer. When the ILS does not answer,
the local lookup stands as it is (the staff page shows the link is down).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kiosk.domain.cards import mask
from kiosk.domain.lookup import LookupResult, Pickup
from kiosk.ils.client import LinkDown, LoginRefused
from kiosk.ils.link import IlsLink, PatronInfo
from kiosk.models import Item, Order, OrderStatus

log = logging.getLogger(__name__)

ASK_AT_DESK = "ask_at_desk"


def here(info: PatronInfo, locations: list[str]) -> bool:
    """Return True unless the answer names a pickup location that is not this station's."""
    named = info.message.get("BS") if info.message is not None else None
    return not named or named in locations


def shelved_items(session: Session, barcodes: list[str], branch: str) -> dict[str, Order]:
    """Return the ready, shelved orders at branch holding these item barcodes, by barcode."""
    if not barcodes:
        return {}
    rows = session.execute(
        select(Item.barcode, Order).join(Order, Item.order_id == Order.id)
        .where(Item.barcode.in_(barcodes), Order.status == OrderStatus.READY,
               Order.branch == branch, Order.slot_label.is_not(None))
        .options(selectinload(Order.items))).all()
    return {barcode: order for barcode, order in rows}


def _pickup(order: Order, show_titles: bool) -> Pickup:
    return Pickup(order_id=order.id, pickup_code=order.pickup_code, slot=order.slot_label or "",
                  shelf=(order.slot_label or "").split("-")[0], items=len(order.items),
                  deadline=order.deadline.isoformat() if order.deadline else None,
                  titles=[i.title for i in order.items if i.title] if show_titles else [])


def holds_hook(link: IlsLink, station: Any):
    """Return a lookup hook that adds the slots of the holds the ILS lists as waiting."""
    locations = list(station.settings.ils.pickup_locations) or [station.branch]
    show_titles = station.settings.kiosk.show_titles

    def hook(session: Session, card: str, result: LookupResult) -> None:
        try:
            info = link.patron(card, summary="hold")
        except (LinkDown, LoginRefused) as exc:
            log.info("holds of card %s not asked, the ILS is away: %s", mask(card), exc)
            return
        if not here(info, locations):
            return
        waiting = info.hold_items
        found = shelved_items(session, waiting, station.branch)
        shown = {p.order_id for p in result.pickups}
        for order in found.values():
            if order.id not in shown:
                result.pickups.append(_pickup(order, show_titles))
                shown.add(order.id)
        missing = [b for b in waiting if b not in found]
        if missing and ASK_AT_DESK not in result.notices:
            result.notices.append(ASK_AT_DESK)
        if result.pickups:
            result.outcome = "ready"
        elif missing:
            result.outcome = "waiting"

    return hook


@dataclass
class Reconciliation:
    """Mismatches between the shelves and the ILS's lists of waiting holds."""

    not_waiting: list[str] = field(default_factory=list)  # on a slot, ILS no longer lists it
    checked_cards: int = 0
    unreachable: bool = False


def reconcile(session: Session, link: IlsLink, branch: str, limit: int = 500) -> Reconciliation:
    """Ask the ILS for each card with items on the shelves; report items no longer waiting."""
    report = Reconciliation()
    orders = session.scalars(
        select(Order).where(Order.status == OrderStatus.READY, Order.branch == branch,
                            Order.card.is_not(None))
        .options(selectinload(Order.items)).order_by(Order.id).limit(limit)).all()
    by_card: dict[str, list[Order]] = {}
    for order in orders:
        by_card.setdefault(order.card or "", []).append(order)
    for card, its_orders in by_card.items():
        try:
            waiting = set(link.patron(card, summary="hold").hold_items)
        except (LinkDown, LoginRefused):
            report.unreachable = True
            break
        report.checked_cards += 1
        report.not_waiting += [i.barcode for o in its_orders for i in o.items
                               if i.barcode not in waiting and i.lent_at is None]
    return report
