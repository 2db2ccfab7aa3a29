"""Pickup with checkout: lend an order's items to the patron, then mark it collected.

Each item not yet lent becomes a checkout job (kiosk.ils.queue) committed before it
is sent. With the link up the jobs are sent at once; with the link down they stay
queued and pickup goes on: a queued item counts as lent, the queue sends it later.

Refused items: the order is collected only when every item is lent or queued. If
the ILS refuses any item, the items it lent stay lent, and the order stays `ready`
on its slot holding just the refused items (each with the ILS's screen message),
with an audit note for staff; the patron is told to leave those items and see
staff. Collecting the same order again later tries only the items not yet lent.

A bag with no card (an item bag whose owner the ILS has not named yet) cannot be lent
to anyone: `IlsLending.card_needed` says so, and staff give the patron's card when they collect
it. The card that items were lent or queued to becomes the order's card, so that a
later try lends the rest to the same patron.

`IlsLending.collect` is the one collect behind every door (the kiosk's "I have collected
it", the staff desk, `POST /api/v1/orders/<id>/collect`, all through `Station.collect`):
it lends through the ILS when `[ils] checkout_on_collect` is on, so each door lends,
queues and refuses alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from kiosk.domain import audit, order_writes, pickup
from kiosk.domain import orders as order_ops
from kiosk.domain.cards import mask
from kiosk.domain.messages import plural
from kiosk.domain.pickup import ItemOutcome, PickupOutcome
from kiosk.ils import attach, queue
from kiosk.ils.client import LinkDown, LoginRefused
from kiosk.ils.link import IlsLink
from kiosk.models import Order, OrderStatus

log = logging.getLogger(__name__)


@dataclass
class IlsLending:
    """The station's lending when a library system is configured (`Station.lending`)."""

    station: Any

    def collect(self, session: Session, order: Order, card: str | None,
                actor: order_ops.Actor, detail: str | None = None) -> PickupOutcome:
        """Collect a ready order, lending its items to card as `[ils]` configures.

        Lending needs `checkout_on_collect` and a card; without either the order is just
        marked collected. An order not on a shelf raises the usual OrderError before
        anything is queued or sent.
        """
        if order.status != OrderStatus.READY:
            order_ops.collect(session, order, actor, detail)  # raises: only ready orders move
        lend = self.station.settings.ils.checkout_on_collect and card
        link = attach(self.station) if lend else None
        return collect_with_checkout(session, order, card or "", link, actor, detail=detail)

    def card_needed(self, order: Order) -> bool:
        """Return True when collecting order lends its items but the order has no card.

        Lending at collect needs a SIP2 link and `checkout_on_collect`; without them a bag
        with no card is collected as before.
        """
        ils = self.station.settings.ils
        return order.card is None and ils.kind == "sip2" and bool(ils.checkout_on_collect)


_STATE = {queue.DONE: "lent", queue.QUEUED: "queued", queue.REFUSED: "refused",
          queue.FAILED: "refused"}


def collect_with_checkout(session: Session, order: Order, card: str, link: IlsLink | None,
                          actor: order_ops.Actor, detail: str | None = None) -> PickupOutcome:
    """Lend the order's items to card (queueing when the ILS is down), then collect it."""
    if link is None:
        return pickup.collect(session, order, actor, detail)
    outcome = PickupOutcome(order.id, False, ils="online")
    outcome.items = [ItemOutcome(i.barcode, "lent", i.due_date, i.ils_message)
                     for i in order.items if i.lent_at is not None]
    with link.queue_lock:
        open_items = [i for i in order.items if i.lent_at is None]
        jobs = [queue.job_for_item(session, item, card) for item in open_items]
        # Claim the order with its jobs: a collect or cancel that landed since it was read
        # makes this write fail (ChangedMeanwhile, 409) before anything is sent, and one
        # coming while the items are lent is refused (being collected) until close().
        order_writes.start_collecting(order)
        order_writes.commit(session)  # durable before anything is sent
        offline = False
        for job in jobs:
            if not offline and job.state == queue.QUEUED:
                try:
                    queue.send_job(session, job, link)
                except (LinkDown, LoginRefused) as exc:
                    session.rollback()
                    offline = True
                    log.info("ILS unavailable at pickup (%s); checkouts queued", exc)
            outcome.items.append(ItemOutcome(job.item_barcode, _STATE[job.state],
                                             job.due_date, job.message))
    if offline:
        outcome.ils = "offline"
    if order.card is None and card and any(j.state in (queue.DONE, queue.QUEUED) for j in jobs):
        order.card = card  # the card its items went to: a later try lends the rest to it
    lent = [i for i in outcome.items if i.state != "refused"]

    def close() -> None:
        order_writes.end_collecting(order)
        if not outcome.refused:
            order_ops.collect(session, order, actor, detail=audit.join(
                detail, audit.detail("lent_queued" if offline else "lent", num=len(lent))))
            outcome.collected = True
        else:
            items = "; ".join(f"{i.barcode}: {i.message or '-'}" for i in outcome.refused)
            order_ops.record(session, order, actor, "partly_lent", detail=audit.detail(
                "refused", num=len(outcome.refused), items=items))
            log.info("pickup of order %s by card %s: %s refused", order.id, mask(card),
                     plural(len(outcome.refused), "%(num)d item", "%(num)d items"))

    order_writes.commit(session, close)
    return outcome
