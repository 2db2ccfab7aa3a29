"""Pickup at the kiosk: POST /kiosk/collect ("I have collected it") and POST /kiosk/pin."""

from __future__ import annotations

import logging
import re

from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from kiosk import webpolicy
from kiosk.domain import orders as order_ops
from kiosk.domain.cards import mask
from kiosk.domain.messages import plural
from kiosk.extensions import csrf, db, limiter
from kiosk.ils import attach
from kiosk.ils.client import LinkDown, LoginRefused
from kiosk.ils.patrons import PIN_LOCKED, SEE_STAFF, notice_for
from kiosk.models import Order, OrderStatus
from kiosk.views.errors import json_error

log = logging.getLogger(__name__)
bp = Blueprint("pickup", __name__)
MAX_PIN_LENGTH = 32
PIN = re.compile(f"[0-9]{{1,{MAX_PIN_LENGTH}}}")


def _station():
    return current_app.extensions["station"]


def _json_args(*ints: str) -> dict | tuple:
    """Return event_id (text) and the named whole numbers of the JSON body, or an error."""
    if not request.is_json:
        return json_error(415, "expected JSON", "Send application/json")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return json_error(400, "bad request", "Send a JSON object")
    out = {"event_id": webpolicy.event_id_of(payload)}
    if out["event_id"] is None:
        return json_error(400, "bad request", "The event_id must be the id of the scan")
    for name in ints:
        value = payload.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            return json_error(400, "bad request", f"The {name} field must be a whole number")
        out[name] = value
    return out


def _recent_or_error(event_id: str):
    entry = _station().recent(event_id, webpolicy.screen_token() or "")
    if entry is None or entry[0] is None:
        return None, json_error(404, "scan not on screen",
                                "Scan the card again; this screen has gone idle")
    return entry, None


@bp.post("/kiosk/collect")
@csrf.exempt
@limiter.limit("30/minute")
def collect():
    station = _station()
    if not station.settings.kiosk.self_collect:
        return json_error(403, "self collect is off", "Ask staff to hand over the order")
    args = _json_args("order_id")
    if isinstance(args, tuple):
        return args
    entry, error = _recent_or_error(args["event_id"])
    if error:
        return error
    card, result = entry
    shown = {p["order_id"] for p in result.get("pickups", [])}
    if args["order_id"] not in shown:
        return json_error(404, "order not shown", "That order was not on this scan's screen")
    offline = station.offline  # the database away: the journal keeps it (kiosk.outage)
    if offline is not None and offline.serving():
        return jsonify(offline.collect(card, args["order_id"])), 200
    try:
        order = db.session.get(Order, args["order_id"])
    except SQLAlchemyError as exc:
        if offline is None or not offline.database_failed(exc):
            raise
        db.session.rollback()
        return jsonify(offline.collect(card, args["order_id"])), 200
    holds_mode = station.settings.ils.kind == "sip2" and station.settings.ils.holds_from_ils
    if order is None or (order.card != card and not holds_mode):  # ILS holds: its list rules
        return json_error(404, "order not shown", "That order was not on this scan's screen")
    if order.status != OrderStatus.READY:
        return json_error(409, f"order is {order.status}", {"status": order.status})
    actor = order_ops.Actor("kiosk", station.name)
    outcome = station.collect(db.session, order, card, actor)
    log.info("pickup of order %s at the kiosk by card %s: %s", order.id, mask(card),
             f"ILS {outcome.ils}" if outcome.collected
             else f"{plural(len(outcome.refused), '%(num)d item', '%(num)d items')} refused")
    body = outcome.as_dict()
    body["status"] = order.status
    if outcome.refused:
        body["notices"] = [SEE_STAFF]
    return jsonify(body), 200


@bp.post("/kiosk/pin")
@csrf.exempt
def pin():
    station = _station()
    guard = getattr(station, "pin_guard", None)
    if attach(station) is None or guard is None:
        return json_error(404, "no PIN here", "This station does not ask for a PIN")
    payload = request.get_json(silent=True) if request.is_json else None
    given = payload.get("pin") if isinstance(payload, dict) else None
    if not isinstance(given, str) or not PIN.fullmatch(given):  # ASCII digits only
        return json_error(400, "bad request", 'Send {"event_id": "...", "pin": "1234"}')
    args = _json_args()
    if isinstance(args, tuple):
        return args
    entry, error = _recent_or_error(args["event_id"])
    if error:
        return error
    card = entry[0]
    if guard.locked(card):
        return json_error(429, "too many wrong PINs", {"notices": [PIN_LOCKED]})
    try:
        info = station.ils.check_pin(card, given)
    except (LinkDown, LoginRefused):
        return json_error(503, "library system unavailable", "Try again, or see staff")
    if not info.pin_ok:
        left = guard.wrong(card)
        log.info("wrong PIN for card %s (%d tries left)", mask(card), left)
        return json_error(403, "wrong PIN", {"tries_left": left})
    guard.right(card)
    data = station.handle_scan(card, source="pin", screen=webpolicy.screen_token())
    notice = notice_for(info)
    if notice and notice not in data["notices"]:
        data["notices"].append(notice)
    return jsonify(data), 200


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
