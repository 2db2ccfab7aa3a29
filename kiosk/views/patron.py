"""The patron screen: GET /, POST /kiosk/scan, GET /kiosk/events (no login).

Also POST /kiosk/language-reset (the screen going idle forgets the patron's language) and
POST /kiosk/staff-login: a staff card scanned at the screen plus its PIN
switches this screen into staff mode (`[kiosk] staff_pin`).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from kiosk import webpolicy
from kiosk.domain import accounts
from kiosk.domain.shelving import slot_label
from kiosk.events import TooManySubscribers
from kiosk.extensions import csrf, db, limiter
from kiosk.models import Shelf
from kiosk.staff import auth  # the staff side's session and lockout policy serve here too
from kiosk.station import STAFF
from kiosk.views.errors import json_error

log = logging.getLogger(__name__)
bp = Blueprint("patron", __name__)
MAX_CODE_LENGTH = 256
MAX_PIN_LENGTH = 16


def _station():
    return current_app.extensions["station"]


def _scan_limit() -> str:
    return _station().settings.kiosk.rate_limit


def shelf_wall(session: Session, names: list[str], branch: str) -> list[dict[str, Any]]:
    """Return the configured shelves of branch's wall in order, each with the labels of its
    active slots."""
    shelves = session.scalars(
        select(Shelf).where(Shelf.branch == branch, Shelf.name.in_(names))
        .options(selectinload(Shelf.slots))
    ).all()
    order = {name: i for i, name in enumerate(names)}
    return [
        {"name": shelf.name,
         "slots": [s.label for s in sorted(shelf.slots, key=lambda s: s.number) if s.active]}
        for shelf in sorted(shelves, key=lambda s: order[s.name])
    ]


@bp.app_context_processor
def page_language() -> dict[str, str]:
    """Give every template the page's language code and writing direction."""
    locale = get_locale()
    if locale is None:
        return {"page_lang": "nb", "page_dir": "ltr"}
    return {"page_lang": str(locale).replace("_", "-"), "page_dir": locale.text_direction}


@bp.get("/")
def screen():
    station = _station()
    webpolicy.screen_token(create=True)  # this screen's secret, in its session cookie
    configured = [s for s in station.settings.shelves if s["branch"] == station.branch]
    try:
        shelves = shelf_wall(db.session, [shelf["name"] for shelf in configured],
                             station.branch)
    except SQLAlchemyError:  # the screen still comes up; /healthz tells about the database
        db.session.rollback()
        shelves = [{"name": c["name"],
                    "slots": [slot_label(c["name"], n) for n in range(1, c["slots"] + 1)]}
                   for c in configured]
    return render_template("patron/screen.html", station=station,
                           settings=station.settings, shelves=shelves)


@bp.post("/kiosk/scan")
@csrf.exempt
def scan():
    if not request.is_json:
        return json_error(415, "expected JSON", 'Send {"code": "..."} as application/json')
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("code"), str):
        return json_error(400, "bad request", 'Send {"code": "..."} with a string code')
    if len(payload["code"]) > MAX_CODE_LENGTH:
        return json_error(400, "bad request", f"Code longer than {MAX_CODE_LENGTH} characters")
    return _station().handle_scan(payload["code"], source="screen",
                                  screen=webpolicy.screen_token(create=True))


@bp.post("/kiosk/language-reset")
@csrf.exempt  # harmless: it only brings back the station's own language
@limiter.exempt
def language_reset():
    """Forget the language chosen on this screen: the station's own serves again."""
    session.pop("lang", None)
    return "", 204


@bp.get("/kiosk/ping")
def ping():
    return "", 204  # a trivial endpoint: the yardstick of bench/scan_throughput.py


@bp.get("/kiosk/events")
@limiter.exempt
def events():
    bus = _station().bus
    try:
        q = bus.subscribe(screen=webpolicy.screen_token())
    except TooManySubscribers as exc:
        return json_error(503, "too many open event streams", str(exc))
    keepalive = current_app.config.get("KIOSK_SSE_KEEPALIVE_S", 15.0)
    max_s = current_app.config.get("KIOSK_SSE_MAX_S", 300.0)
    response = Response(bus.stream(q, keepalive, max_s), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.call_on_close(lambda: bus.unsubscribe(q))  # also when the stream never started
    return response


@bp.post("/kiosk/staff-login")
@csrf.exempt  # JSON only: a cross-site page cannot send application/json without CORS
def staff_login():
    """Log the staff card scanned on this screen in with its PIN; the card never left us."""
    station = _station()
    if not station.settings.kiosk.staff_pin:
        return json_error(404, "not found", "Staff mode by card and PIN is not configured")
    if not request.is_json:
        return json_error(415, "expected JSON", 'Send {"event_id": "...", "pin": "1234"}')
    payload = request.get_json(silent=True)
    event_id = webpolicy.event_id_of(payload)
    pin = payload.get("pin") if isinstance(payload, dict) else None
    if event_id is None or not isinstance(pin, str) or not 0 < len(pin) <= MAX_PIN_LENGTH:
        return json_error(400, "bad request", 'Send {"event_id": "...", "pin": "1234"}')
    recent = station.recent(event_id, webpolicy.screen_token() or "")
    if recent is None or recent[0] is None or recent[1].get("outcome") != STAFF:
        return json_error(404, "no staff card on screen", "Scan the staff card again")
    user, refused = webpolicy.try_login(lambda: accounts.authenticate_card(
        db.session, recent[0], pin, webpolicy.throttle(), webpolicy.client_address()))
    if user is None:
        log.info("staff card login at the kiosk refused (%s)", refused[0])
        return webpolicy.refused_json(refused, "wrong card or PIN")
    auth.login_user(user)
    log.info("staff %s switched a kiosk into staff mode", user.username)
    return jsonify({"ok": True, "redirect": url_for("staff.index")})


# The same view with the per-address limit; made once, put in place only where a limit is
# configured, so a station with `rate_limit = "off"` pays nothing for the limiter per scan.
_limited_scan = limiter.limit(_scan_limit)(scan)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    if app.config["KIOSK_SETTINGS"].kiosk.rate_limit != "off":
        app.view_functions["patron.scan"] = _limited_scan
