"""Holds looked up in the ILS at scan time (`[ils] holds_from_ils`).

On a scan the station asks 63 Patron Information with the hold-items summary and
reads the items waiting for pickup (AS fields of 64). Each such item that a slot
holds (an item of a ready order on a shelf of this branch, whether imported or an
item bag shelved by item, see kiosk.ils.item_bags) is shown with its slot, whatever
the order's card says; an item waiting but on no slot is "ask at the desk", never
hidden. An item bag shelved without a card learns it here, from the ILS, so the
next scan finds it even while the ILS is away. When the answer names a pickup
location (BS) that is not this station's (`[ils] pickup_locations`, or the
branch), its holds are not counted here. The name the ILS sends reaches the screen
only with `[kiosk] show_names`. When the ILS does not answer, the local lookup
stands as it is and `HoldsStatus` counts the fallback for the staff page.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kiosk.domain.cards import mask
from kiosk.domain.lookup import LookupResult, Pickup
from kiosk.domain.messages import plural
from kiosk.ils.client import LinkDown, LoginRefused
from kiosk.ils.link import IlsLink, PatronInfo
from kiosk.models import Item, Order, OrderStatus, utcnow

log = logging.getLogger(__name__)

ASK_AT_DESK = "ask_at_desk"


class HoldsStatus:
    """What the staff page shows of holds mode: scans that fell back, the last reconciliation."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reconciling = threading.Lock()  # one reconciliation at a time
        self.fallbacks = 0
        self.last_fallback_at: dt.datetime | None = None
        self.last_fallback_reason = ""
        self.last_report: Any = None  # a kiosk.ils.reconcile.Reconciliation

    def fell_back(self, reason: str) -> None:
        """Note a scan answered from local data because the ILS did not answer."""
        with self._lock:
            self.fallbacks += 1
            self.last_fallback_at = utcnow()
            self.last_fallback_reason = reason

    def store(self, report: Any) -> None:
        """Keep a reconciliation report as the last one."""
        with self._lock:
            self.last_report = report

    def not_waiting(self) -> list[str]:
        """Return the item barcodes the last reconciliation found no longer waiting."""
        report = self.last_report
        return list(report.not_waiting) if report is not None else []


def holds_mode(settings: Any) -> bool:
    """Return True when the configuration looks holds up in the ILS at scan time."""
    return settings.ils.kind == "sip2" and bool(settings.ils.holds_from_ils)


def here(info: PatronInfo, locations: list[str]) -> bool:
    """Return True unless the answer names a pickup location that is not this station's."""
    named = info.message.get("BS") if info.message is not None else None
    return not named or named in locations


@dataclass
class ShelvedBag:
    """A ready order on a slot, as the scan needs it (plain columns, no ORM objects)."""

    order_id: int
    pickup_code: str
    slot: str
    deadline: dt.date | None
    card: str | None
    source: str
    titles: list[str] = field(default_factory=list)
    items: int = 0


def shelved_items(session: Session, barcodes: list[str], branch: str) -> dict[str, ShelvedBag]:
    """Return the ready, shelved orders at branch holding these item barcodes, by barcode."""
    if not barcodes:
        return {}
    # Items first, by their barcode index: joined, a planner may walk every ready order.
    pairs = session.execute(select(Item.barcode, Item.order_id)
                            .where(Item.barcode.in_(barcodes))).all()
    if not pairs:
        return {}
    rows = session.execute(
        select(Order.id, Order.pickup_code, Order.slot_label, Order.deadline, Order.card,
               Order.source, Item.title)
        .join(Item, Item.order_id == Order.id)
        .where(Order.id.in_({order_id for _, order_id in pairs}),
               Order.status == OrderStatus.READY, Order.branch == branch,
               Order.slot_label.is_not(None))
        .order_by(Order.id, Item.id)).all()
    bags: dict[int, ShelvedBag] = {}
    for order_id, code, slot, deadline, card, source, title in rows:
        bag = bags.setdefault(order_id, ShelvedBag(order_id, code, slot, deadline, card, source))
        bag.items += 1
        if title:
            bag.titles.append(title)
    return {barcode: bags[order_id] for barcode, order_id in pairs if order_id in bags}


def _pickup(bag: ShelvedBag, show_titles: bool) -> Pickup:
    return Pickup(order_id=bag.order_id, pickup_code=bag.pickup_code, slot=bag.slot,
                  shelf=bag.slot.split("-")[0], items=bag.items,
                  deadline=bag.deadline.isoformat() if bag.deadline else None,
                  titles=list(bag.titles) if show_titles else [])


def _learn_card(session: Session, bags: list[ShelvedBag], card: str) -> None:
    """Give item bags shelved without a card the card the ILS named (fallback later)."""
    unknown = [b.order_id for b in bags if b.card is None and b.source == "ils"]
    if not unknown:
        return
    try:
        session.execute(update(Order).where(Order.id.in_(unknown), Order.card.is_(None))
                        .values(card=card))
        session.commit()
    except Exception:  # a scan must answer even if this write fails
        session.rollback()
        log.exception("could not note the card of %s",
                      plural(len(unknown), "%(num)d item bag", "%(num)d item bags"))


def holds_hook(link: IlsLink, station: Any):
    """Return a lookup hook that adds the slots of the holds the ILS lists as waiting."""
    locations = list(station.settings.ils.pickup_locations) or [station.branch]
    show_titles = station.settings.kiosk.show_titles
    show_names = station.settings.kiosk.show_names
    status: HoldsStatus | None = getattr(station, "holds", None)

    def hook(session: Session, card: str, result: LookupResult) -> None:
        try:
            info = link.patron(card, summary="hold")
        except (LinkDown, LoginRefused) as exc:
            log.info("holds of card %s not asked, the ILS is away: %s", mask(card), exc)
            if status is not None:
                status.fell_back(str(exc))
            return
        if not here(info, locations):
            return
        if show_names and info.name and not result.name:
            result.name = info.name
        waiting = info.hold_items
        found = shelved_items(session, waiting, station.branch)
        shown = {p.order_id for p in result.pickups}
        bags = list({b.order_id: b for b in found.values()}.values())
        for bag in bags:
            if bag.order_id not in shown:
                result.pickups.append(_pickup(bag, show_titles))
                shown.add(bag.order_id)
        _learn_card(session, bags, card)
        missing = [b for b in waiting if b not in found]
        if missing and ASK_AT_DESK not in result.notices:
            result.notices.append(ASK_AT_DESK)
        if result.pickups:
            result.outcome = "ready"
        elif missing:
            result.outcome = "waiting"

    return hook
