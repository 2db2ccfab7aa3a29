"""What a 10 Checkin answer means for a bag on the shelf, as Koha's SIP server sends it.

Koha puts the hold it trapped in the alert type (CV): 01 a hold for this library, with
the hold patron's card (CY) and name (DA); 02 a hold for another library, with the
destination (CT); 04 no hold but the item belongs elsewhere (CT). Without an alert the
item is on no hold. Koha answers ok=0 ("Item not checked out") for an item that was not
on loan unless the SIP account sets `checked_in_ok`, yet it has trapped the hold all the
same: so the alert decides, and ok=0 only refuses when there is no hold alert.

- 01: the item waits here; an item bag with no card learns the card at once (so the kiosk
  finds it with the ILS away later, and the desk needs no card scan). The name is kept
  only where `[kiosk] show_names` allows (`link.keep_names`).
- 02, 04: refused: "send to <destination>".
- no alert: refused: "not on hold: back to the shelves"; ok=0 without a hold: refused
  with the ILS's screen message (AF).

The card kept here is purged with the order's card (kiosk.domain.clearance).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from kiosk.domain import orders as order_ops
from kiosk.domain.cards import mask
from kiosk.domain.messages import N_, StationError
from kiosk.ils import sip2
from kiosk.ils.link import CheckinResult
from kiosk.models import IlsJob, Order, OrderStatus, utcnow

log = logging.getLogger(__name__)

DONE, REFUSED = "done", "refused"


@dataclass
class Verdict:
    """A check-in answer read: the job's new state, what to keep of it, the staff message."""

    state: str
    alert: str | None
    destination: str | None
    message: str | None  # the ILS's own words, kept only when they are the reason
    problem: StationError


def problem_of(barcode: str, state: str, alert: str | None, destination: str | None,
               message: str | None) -> StationError:
    """Return the staff message for a check-in as its job records it (translatable)."""
    if state == DONE:
        return StationError(N_("Item %(barcode)s waits for its patron here"), barcode=barcode)
    if alert == sip2.HOLD_ELSEWHERE and destination:
        return StationError(N_("Item %(barcode)s is on hold for another library: send to "
                               "%(destination)s"), barcode=barcode, destination=destination)
    if alert == sip2.SEND_HOME and destination:
        return StationError(N_("Item %(barcode)s is not on hold here: send to "
                               "%(destination)s"), barcode=barcode, destination=destination)
    if message:
        return StationError(N_("The library system refused to check in item %(barcode)s: "
                               "%(message)s"), barcode=barcode, message=message)
    return StationError(N_("Item %(barcode)s is not on hold: back to the shelves"),
                        barcode=barcode)


def read(result: CheckinResult, barcode: str) -> Verdict:
    """Turn a 10 answer into the job's state and a translatable message."""
    state = DONE if result.alert == sip2.HOLD_HERE else REFUSED
    held = result.alert in (sip2.HOLD_HERE, sip2.HOLD_ELSEWHERE, sip2.SEND_HOME)
    message = (result.message or "-")[:500] if state == REFUSED and not result.ok \
        and not (held and result.destination) else None
    alert = result.alert[:2] or None
    destination = result.destination[:100] or None
    return Verdict(state, alert, destination, message,
                   problem_of(barcode, state, alert, destination, message))


def apply(session: Session, job: IlsJob, result: CheckinResult, link: Any) -> Verdict:
    """Record the answer on the job and, for a hold here, teach the bag its card; commit."""
    verdict = read(result, job.item_barcode)
    job.state, job.done_at = verdict.state, utcnow()
    job.alert, job.destination, job.message = verdict.alert, verdict.destination, verdict.message
    order = session.get(Order, job.order_id) if job.order_id else None
    card = _card(result.hold_card, link)
    if verdict.state == DONE and card:
        job.card = card
    if order is not None:
        actor = order_ops.Actor("ils", getattr(link, "station_name", "") or "-")
        if verdict.state == DONE:
            _learn(session, order, card, result.hold_name if link.keep_names else "", actor,
                   job.item_barcode)
        else:
            order_ops.record(session, order, actor, "checkin_refused",
                             detail=str(verdict.problem))
    session.commit()
    log.info("check-in of item %s: %s", job.item_barcode, verdict.problem)
    return verdict


def _card(raw: str, link: Any) -> str:
    if not raw:
        return ""
    cards = getattr(link, "cards", None)
    normal = cards.card(raw) if cards is not None else None
    return (normal or raw.strip())[:64]


def _learn(session: Session, order: Order, card: str, name: str, actor: Any,
           barcode: str) -> None:
    """Give an open item bag the hold's card (and name, if kept); note it in the audit."""
    detail = f"item {barcode} checked in: waiting" + (f" for card {mask(card)}" if card else "")
    open_bag = order.source == "ils" and order.status in (
        OrderStatus.RECEIVED, OrderStatus.PACKING, OrderStatus.READY)
    if open_bag and card and order.card is None:
        order.card = card
        detail += "; the bag takes this card"
    elif card and order.card and order.card != card:
        detail += f"; the bag's card is {mask(order.card)}"
    if open_bag and name and order.patron_name is None and order.card == card:
        order.patron_name = name[:200]
    order_ops.record(session, order, actor, "checked_in", detail=detail)
