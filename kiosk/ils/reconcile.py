"""Reconciliation: compare what is on this branch's shelves with what the ILS lists as waiting.

Orders with a card (imported ones, and item bags whose card a scan has taught the
station) are checked with one 63 Patron Information per card: an item on a slot
that the card's waiting holds (AS) no longer name is "not waiting", and a hold the
ILS lists as waiting that no slot here holds is "waiting, on no slot". Item bags
shelved without a card are checked item by item with 17 Item Information: anything
but circulation status 08 (on the hold shelf) is "not waiting". Items already lent
are left out. The report is kept in the station's `HoldsStatus`; the clearance list
shows the bags holding items no longer waiting.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from kiosk.domain.messages import plural
from kiosk.ils.client import LinkDown, LoginRefused
from kiosk.ils.holds import HoldsStatus, here, shelved_items
from kiosk.ils.link import IlsLink
from kiosk.models import Order, OrderStatus, utcnow

log = logging.getLogger(__name__)

NOT_WAITING = "not_waiting"
WAITING_UNSHELVED = "waiting_unshelved"


@dataclass
class Mismatch:
    """One difference between the shelves and the ILS."""

    kind: str  # NOT_WAITING | WAITING_UNSHELVED
    item: str
    order_id: int | None = None
    slot: str | None = None
    pickup_code: str | None = None
    detail: str = ""


@dataclass
class Reconciliation:
    """Mismatches between the shelves and the ILS's lists of waiting holds."""

    trigger: str = "staff"  # "staff" | "periodic"
    started_at: dt.datetime = field(default_factory=utcnow)
    finished_at: dt.datetime | None = None
    mismatches: list[Mismatch] = field(default_factory=list)
    checked_cards: int = 0
    checked_items: int = 0
    unreachable: bool = False
    error: str = ""

    @property
    def not_waiting(self) -> list[str]:
        """Return the barcodes of items on a slot that the ILS no longer lists as waiting."""
        return [m.item for m in self.mismatches if m.kind == NOT_WAITING]

    @property
    def waiting_unshelved(self) -> list[str]:
        """Return the barcodes the ILS lists as waiting that no slot here holds."""
        return [m.item for m in self.mismatches if m.kind == WAITING_UNSHELVED]


def _not_waiting(order: Order, barcode: str, detail: str = "") -> Mismatch:
    return Mismatch(NOT_WAITING, barcode, order.id, order.slot_label, order.pickup_code, detail)


def reconcile(session: Session, link: IlsLink, branch: str, *, locations: list[str] | None = None,
              trigger: str = "staff", limit: int = 2000) -> Reconciliation:
    """Ask the ILS about every bag on the shelves of branch; return the mismatches found."""
    report = Reconciliation(trigger=trigger)
    locations = locations or [branch]
    orders = session.scalars(
        select(Order).where(Order.status == OrderStatus.READY, Order.branch == branch,
                            Order.slot_label.is_not(None))
        .options(selectinload(Order.items)).order_by(Order.id).limit(limit)).all()
    by_card: dict[str, list[Order]] = {}
    item_bags: list[Order] = []
    for order in orders:
        if order.card:
            by_card.setdefault(order.card, []).append(order)
        else:
            item_bags.append(order)
    try:
        for card, its_orders in by_card.items():
            info = link.patron(card, summary="hold")
            report.checked_cards += 1
            waiting = set(info.hold_items) if here(info, locations) else set()
            for order in its_orders:
                report.mismatches += [_not_waiting(order, i.barcode) for i in order.items
                                      if i.barcode not in waiting and i.lent_at is None]
            on_slots = shelved_items(session, sorted(waiting), branch)
            report.mismatches += [Mismatch(WAITING_UNSHELVED, b) for b in sorted(waiting)
                                  if b not in on_slots]
        for order in item_bags:
            for item in order.items:
                if item.lent_at is not None:
                    continue
                answer = link.item(item.barcode)
                report.checked_items += 1
                if not answer.waiting:
                    report.mismatches.append(_not_waiting(
                        order, item.barcode,
                        f"status {answer.circulation_status} {answer.screen_message}".strip()))
    except (LinkDown, LoginRefused) as exc:
        report.unreachable, report.error = True, str(exc)
        log.info("reconciliation stopped, the ILS did not answer: %s", exc)
    report.finished_at = utcnow()
    log.info("reconciliation (%s): %s, %s checked, %s%s",
             trigger, plural(report.checked_cards, "%(num)d card", "%(num)d cards"),
             plural(report.checked_items, "%(num)d item", "%(num)d items"),
             plural(len(report.mismatches), "%(num)d mismatch", "%(num)d mismatches"),
             ", incomplete" if report.unreachable else "")
    return report


def run(session: Session, link: IlsLink, status: HoldsStatus, branch: str,
        locations: list[str] | None = None, trigger: str = "staff") -> Reconciliation | None:
    """Reconcile and store the report in status; None when one is already running."""
    if not status.reconciling.acquire(blocking=False):
        return None
    try:
        report = reconcile(session, link, branch, locations=locations, trigger=trigger)
        status.store(report)
        return report
    finally:
        status.reconciling.release()
