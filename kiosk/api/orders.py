"""The integration API under /api/v1: orders in, shelving, collection, corrections, cancellation.

Every request but the OpenAPI document needs `Authorization: Bearer <token>`.
Errors are JSON `{"error", "detail"}` with a 4xx status.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from kiosk.api.auth import TokenFile, bearer_token
from kiosk.api.openapi import document
from kiosk.domain import audit, import_files, shelving
from kiosk.domain import orders as order_ops
from kiosk.domain.cards import mask
from kiosk.domain.messages import plural
from kiosk.extensions import db
from kiosk.ils.lending import card_needed, collect_order
from kiosk.models import Order, OrderStatus
from kiosk.views.errors import json_error
from kiosk.webpolicy import MAX_OFFSET

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
MAX_BODY = 1024 * 1024
MAX_LIMIT = 500
DEFAULT_LIMIT = 50
LIST_PARAMS = ("status", "ref", "card", "branch", "limit", "offset")
PUBLIC = {"api.openapi"}


class BadRequest(order_ops.OrderError):
    status_code = 400


class _Unsupported(order_ops.OrderError):
    status_code = 415


def _station():
    return current_app.extensions["station"]


def _actor() -> order_ops.Actor:
    return order_ops.Actor("api", _station().name)


def _tokens() -> TokenFile | None:
    path = _station().settings.api.tokens_file
    if not path:
        return None
    tokens = current_app.extensions.get("api_tokens")
    if tokens is None or tokens.path != path:
        tokens = current_app.extensions["api_tokens"] = TokenFile(path)
    return tokens


@bp.before_request
def authenticate():
    request.max_content_length = MAX_BODY
    if request.endpoint in PUBLIC:
        return None
    tokens = _tokens()
    token = bearer_token(request.headers.get("Authorization"))
    if tokens is None:
        problem = "the API is off: no [api] tokens_file is configured"
    elif token is None:
        problem = "send Authorization: Bearer <token>"
    elif not tokens.check(token):
        problem = "token not accepted"
    else:
        return None
    response = json_error(401, "unauthorized", problem)
    response[0].headers["WWW-Authenticate"] = 'Bearer realm="kiosk"'
    return response


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # SQLite hands back naive UTC times
    return value.isoformat()


def order_json(order: Order) -> dict[str, Any]:
    """Return the API's representation of an order (the card included: callers are trusted)."""
    return {
        "id": order.id, "ref": order.ref or order.cancelled_ref, "status": order.status,
        "pickup_code": order.pickup_code, "card": order.card, "branch": order.branch,
        "slot": order.slot_label if order.status == OrderStatus.READY else None,
        "deadline": _iso(order.deadline),
        "items": [{"barcode": i.barcode, "title": i.title, "packed": i.packed_at is not None,
                   "lent": i.lent_at is not None} for i in order.items],
        "created_at": _iso(order.created_at), "updated_at": _iso(order.updated_at),
        "packed_at": _iso(order.packed_at), "shelved_at": _iso(order.shelved_at),
        "closed_at": _iso(order.closed_at),
    }


def _json_body(required: bool = True) -> dict[str, Any]:
    """Return the request's JSON object; raise a 4xx for anything else."""
    if not request.get_data(cache=True) and not required:
        return {}
    if not request.is_json:
        raise _Unsupported("expected JSON", "send the body as application/json")
    body = request.get_json(silent=True)  # over-deep nesting gives None (StationJSONProvider)
    if not isinstance(body, dict):
        raise BadRequest("bad request", "The body must be a JSON object")
    return body


def _reason(body: dict[str, Any]) -> str | None:
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > 500):
        raise BadRequest("bad request", "The reason must be text of at most 500 characters")
    return reason


@bp.post("/orders")
def create():
    body = _json_body()
    station = _station()
    draft, problems = import_files.check_order(body, station.cards, station.branch)
    if draft is None:
        raise BadRequest("invalid order", [p.as_dict() for p in problems])
    session = db.session
    order = shelving.with_retry(
        session, lambda: order_ops.create_order(session, draft.new, _actor(), source="api"))
    log.info("api: order %s created with %s for %s", order.id,
             plural(len(order.items), "%(num)d item", "%(num)d items"),
             order.branch)
    response = jsonify(order_json(order))
    response.headers["Location"] = url_for("api.get_order", order_id=order.id)
    return response, 201


@bp.get("/orders/<int:order_id>")
def get_order(order_id: int):
    return jsonify(order_json(order_ops.get(db.session, order_id)))


def _int_arg(name: str, default: int, minimum: int, maximum: int = MAX_OFFSET) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest("bad request", f"The {name} parameter must be a whole number") from None
    if value < minimum:
        raise BadRequest("bad request", f"The {name} parameter must be at least {minimum}")
    if value > maximum:  # SQL's OFFSET is a signed 64-bit number
        raise BadRequest("bad request", f"The {name} parameter must be at most {maximum}")
    return value


@bp.get("/orders")
def list_orders():
    unknown = sorted(set(request.args) - set(LIST_PARAMS))
    if unknown:
        named = plural(len(unknown), "Unknown parameter", "Unknown parameters")
        raise BadRequest("bad request", f"{named} {', '.join(unknown)}; "
                         f"known: {', '.join(LIST_PARAMS)}")
    query = select(Order)
    statuses = [s for s in request.args.get("status", "").split(",") if s]
    bad = [s for s in statuses if s not in {v.value for v in OrderStatus}]
    if bad:
        raise BadRequest("bad request", f"Unknown status {bad[0][:40]}; use "
                         + ", ".join(s.value for s in OrderStatus))
    if statuses:
        query = query.where(Order.status.in_(statuses))
    if "ref" in request.args:
        ref = request.args["ref"]  # a cancelled order keeps its ref as cancelled_ref
        query = query.where(or_(Order.ref == ref, Order.cancelled_ref == ref))
    if "branch" in request.args:
        query = query.where(Order.branch == request.args["branch"])
    if "card" in request.args:
        card = _station().cards.card(request.args["card"])
        if card is None:
            raise BadRequest("bad request", "The card is not a card number the station accepts")
        query = query.where(Order.card == card)
    limit = _int_arg("limit", DEFAULT_LIMIT, 1, maximum=MAX_OFFSET)
    limit = min(limit, MAX_LIMIT)
    offset = _int_arg("offset", 0, 0)
    session = db.session
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    page = session.scalars(query.options(selectinload(Order.items)).order_by(Order.id)
                           .limit(limit).offset(offset)).all()
    return jsonify({"orders": [order_json(o) for o in page], "total": total,
                    "limit": limit, "offset": offset})


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
    slot = shelving.get_slot(session, label)
    if shelving.could_shelve(session, order, slot):  # e.g. the ILS check-in; refusal: 409
        station.before_shelving(session, order, actor)

    def work(session, order: Order) -> None:
        slot = shelving.get_slot(session, label)
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
    outcome = collect_order(session, station, order, card, _actor(),
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
    if card_needed(order, station.settings.ils) and given is None:
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


@bp.get("/openapi.json")
def openapi():
    # Relative to where the document is served: never the Host header a client sent.
    return jsonify(document(server=bp.url_prefix))
