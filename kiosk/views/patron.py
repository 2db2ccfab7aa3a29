"""The patron screen: GET /, POST /kiosk/scan, GET /kiosk/events (no login)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, render_template, request
from flask_babel import get_locale
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from kiosk.domain.shelving import slot_label
from kiosk.events import TooManySubscribers
from kiosk.extensions import csrf, db, limiter
from kiosk.models import Shelf
from kiosk.views.errors import json_error

bp = Blueprint("patron", __name__)
MAX_CODE_LENGTH = 256


def _station():
    return current_app.extensions["station"]


def _scan_limit() -> str:
    limit = _station().settings.kiosk.rate_limit
    return "1000000/second" if limit == "off" else limit


def shelf_wall(session: Session, names: list[str]) -> list[dict[str, Any]]:
    """Return the configured shelves in order, each with the labels of its active slots."""
    shelves = session.scalars(
        select(Shelf).where(Shelf.name.in_(names)).options(selectinload(Shelf.slots))
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
    configured = station.settings.shelves
    try:
        shelves = shelf_wall(db.session, [shelf["name"] for shelf in configured])
    except SQLAlchemyError:  # the screen still comes up; /healthz tells about the database
        db.session.rollback()
        shelves = [{"name": c["name"],
                    "slots": [slot_label(c["name"], n) for n in range(1, c["slots"] + 1)]}
                   for c in configured]
    return render_template("patron/screen.html", station=station,
                           settings=station.settings, shelves=shelves)


@bp.post("/kiosk/scan")
@csrf.exempt
@limiter.limit(_scan_limit, exempt_when=lambda: _station().settings.kiosk.rate_limit == "off")
def scan():
    if not request.is_json:
        return json_error(415, "expected JSON", 'send {"code": "..."} as application/json')
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not isinstance(payload.get("code"), str):
        return json_error(400, "bad request", 'send {"code": "..."} with a string code')
    if len(payload["code"]) > MAX_CODE_LENGTH:
        return json_error(400, "bad request", f"code longer than {MAX_CODE_LENGTH} characters")
    return _station().handle_scan(payload["code"], source="screen")


@bp.get("/kiosk/ping")
def ping():
    return "", 204  # a trivial endpoint: the yardstick of bench/scan_throughput.py


@bp.get("/kiosk/events")
@limiter.exempt
def events():
    bus = _station().bus
    try:
        q = bus.subscribe()
    except TooManySubscribers as exc:
        return json_error(503, "too many open event streams", str(exc))
    keepalive = current_app.config.get("KIOSK_SSE_KEEPALIVE_S", 15.0)
    max_s = current_app.config.get("KIOSK_SSE_MAX_S", 300.0)
    response = Response(bus.stream(q, keepalive, max_s), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    response.call_on_close(lambda: bus.unsubscribe(q))  # also when the stream never started
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
