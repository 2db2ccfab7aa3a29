"""POST /kiosk/print: the patron asks for a slip of the scan on screen (no login)."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify, request

from kiosk import webpolicy
from kiosk.extensions import csrf, limiter
from kiosk.views.errors import json_error

bp = Blueprint("printing", __name__)

PRINT_LIMIT = "10/minute"
NOTE_THE_SLOT = "The slip could not be printed. Please note your shelf slot and pickup code."


def _station():
    return current_app.extensions["station"]


def _limit_off() -> bool:
    return _station().settings.kiosk.rate_limit == "off"


@bp.post("/kiosk/print")
@csrf.exempt
@limiter.limit(PRINT_LIMIT, exempt_when=_limit_off)
def print_slip():
    if not request.is_json:
        return json_error(415, "expected JSON", 'Send {"event_id": "..."} as application/json')
    event_id = webpolicy.event_id_of(request.get_json(silent=True))
    if event_id is None:
        return json_error(400, "bad request", 'Send {"event_id": "..."}: the id of the scan')
    station = _station()
    recent = station.recent(event_id, webpolicy.screen_token() or "")
    if recent is None:
        return json_error(404, "no such scan", "The scan is no longer on screen; scan again")
    _card, result = recent
    if result.get("outcome") != "ready" or not result.get("pickups"):
        return json_error(409, "nothing to print", "This scan found nothing on the shelf")
    if station.printer is None:
        return json_error(503, "no printer", "This station has no receipt printer")
    outcome = station.printer.print_result(result)
    if not outcome.ok:
        return json_error(503, "printer not available", NOTE_THE_SLOT)
    return jsonify({"printed": True, "event_id": event_id})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
