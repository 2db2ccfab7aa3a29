"""The integration API's actions on one order: shelve, collect, correct, cancel.

Each is the same domain function the kiosk and the staff pages call; errors are JSON
`{"error", "detail"}` with a 4xx status (409 when the order cannot take the action now).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import jsonify

from kiosk.api.orders import BadRequest, _actor, _json_body, _reason, _station, bp, order_json
from kiosk.domain import audit, identifiers, messages, shelving
from kiosk.domain import orders as order_ops
from kiosk.domain.cards import mask
from kiosk.extensions import db
from kiosk.models import Order, OrderStatus

log = logging.getLogger(__name__)


def _act(order_id: int, work) -> Any:
    """Run work(session, order) and commit, retrying on lock conflicts; answer the order."""
    session = db.session

    def attempt():
        order = order_ops.get(session, order_id)
        work(session, order)
        return order

    order = shelving.with_retry(session, attempt)
    return jsonify(order_json(order))


@bp.post("/orders/<int:order_id>/shelve")
def shelve(order_id: int):
    body = _json_body()
    label = body.get("slot")
    if not isinstance(label, str) or not label.strip() or len(label) > 32:
        raise BadRequest("bad request", 'Send {"slot": "B-12"}')
    station = _station()
    actor = _actor()
    session = db.session
    order = order_ops.get(session, order_id)
    slot = shelving.get_slot(session, label, station.branch)
    if shelving.could_shelve(session, order, slot):  # e.g. the ILS check-in; refusal: 409
        station.before_shelving(session, order, actor)

    def work(session, order: Order) -> None:
        slot = shelving.get_slot(session, label, station.branch)
        if order.packed_at is None and order.status in (OrderStatus.RECEIVED,
                                                        OrderStatus.PACKING):
            order_ops.finish_packing(session, order, actor,
                                     override_reason="packed, as the API caller vouches")
        shelving.shelve(session, order, slot, actor, station.calendar,
                        station.settings.pickup.days_on_shelf)

    response = _act(order_id, work)
    log.info("api: order %s shelved on %s", order_id, response.json["slot"])
    return response


class _Conflict(order_ops.OrderError):
    status_code = 409


@bp.post("/orders/<int:order_id>/collect")
def collect(order_id: int):
    """Collect an order as the kiosk and the desk do: lend its items when configured.

    With `[ils] checkout_on_collect` each item is checked out to the order's card (queued
    when the ILS is down) and the answer carries `pickup`, the kiosk's per-item answer.
    Items the ILS refuses keep the order on its slot: 409 with that answer as detail.
    """
    body = _json_body(required=False)
    reason = _reason(body)
    station = _station()
    session = db.session
    order = order_ops.get(session, order_id)
    card = _collect_card(order, body.get("card"), station)
    if order.card is None and card and order.status == OrderStatus.READY:
        order_ops.record(session, order, _actor(), "card_given",
                         detail=audit.detail("card_by_api", card=mask(card)))
    outcome = station.collect(session, order, card, _actor(),
                              detail=audit.detail("reason", reason=reason) if reason else None)
    log.info("api: order %s %s (ILS %s)", order_id,
             "collected" if outcome.collected else f"kept: {len(outcome.refused)} refused",
             outcome.ils)
    if not outcome.collected:
        raise _Conflict("items refused by the library system",
                          {"pickup": outcome.as_dict(), "order": order_json(order)})
    return jsonify({**order_json(order), "pickup": outcome.as_dict()})


def _collect_card(order: Order, raw: Any, station) -> str | None:
    """Return the card to lend to: the order's, or for a bag with none the caller's `card`."""
    if raw is not None and (not isinstance(raw, str) or len(raw) > 64):
        raise BadRequest("bad request", "The card must be text of at most 64 characters")
    given = station.cards.card(raw) if raw else None
    if raw and given is None:
        raise BadRequest("bad request", "The card is not a card number the station accepts")
    if order.card is not None:
        if given is not None and given != order.card:
            raise _Conflict("another card", "The order belongs to another patron card")
        return order.card
    if station.card_needed(order) and given is None:
        raise _Conflict("card needed", "The order has no patron card yet and its items "
                          'are lent at collect: send {"card": "..."} with the patron\'s card')
    return given


@bp.post("/orders/<int:order_id>/correct")
def correct(order_id: int):
    """Correct the branch (one of the library's) and/or card of an order not yet collected."""
    body = _json_body()
    bad = [k for k in body if k not in ("branch", "card")]
    values = [body.get(k) for k in ("branch", "card")]
    if bad or not any(values) or any(v is not None and (not isinstance(v, str) or len(v) > 64)
                                     for v in values):
        raise BadRequest("bad request", 'Send {"branch": "...", "card": "..."} (either or '
                                        "both, text of at most 64 characters)")
    problem = identifiers.text_problem(body.get("branch"), "branch")
    if problem:  # a lone surrogate or a bidi override never reaches the database
        raise BadRequest("bad request", messages.fill(*problem))
    station = _station()
    card = station.cards.card(body["card"]) if body.get("card") else None
    if body.get("card") and card is None:
        raise BadRequest("bad request", "The card is not a card number the station accepts")
    actor = _actor()
    return _act(order_id, lambda session, order: order_ops.correct(
        session, order, actor, branch=body.get("branch"), card=card,
        branches=station.known_branches(session)))


@bp.post("/orders/<int:order_id>/cancel")
def cancel(order_id: int):
    return _close(order_id, order_ops.cancel, "cancelled")


def _close(order_id: int, operation, done: str):
    """Collect or cancel an order, with the caller's optional reason in the audit trail."""
    reason = _reason(_json_body(required=False))
    detail = audit.detail("reason", reason=reason) if reason else None
    response = _act(order_id, lambda s, o: operation(s, o, _actor(), detail))
    log.info("api: order %s %s", order_id, done)
    return response
