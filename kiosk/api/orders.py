"""The integration API under /api/v1: orders in, listed and read (actions on one order:
kiosk.api.actions).

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
from kiosk.domain import identifiers, import_files, importer, messages, shelving
from kiosk.domain import orders as order_ops
from kiosk.domain.messages import plural
from kiosk.extensions import db
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
        # the wall the bag is on (a bag shelved before shelves had branches may be elsewhere)
        "slot_branch": (order.place.slot.branch if order.status == OrderStatus.READY
                        and order.place is not None else None),
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
    problem = identifiers.text_problem(reason, "reason")
    if problem:
        raise BadRequest("bad request", messages.fill(*problem))
    return reason


@bp.post("/orders")
def create():
    body = _json_body()
    station = _station()
    draft, problems = import_files.check_order(body, station.cards, station.branch)
    if draft is not None:  # identifiers that travel, text with nothing hidden (issue 23)
        problems = importer.check_characters([draft])
    if draft is None or problems:
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


@bp.get("/openapi.json")
def openapi():
    # Relative to where the document is served: never the Host header a client sent.
    return jsonify(document(server=bp.url_prefix))
