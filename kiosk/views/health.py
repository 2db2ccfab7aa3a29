"""GET /healthz: database, scanner, printer and ILS link; 200 if patrons can be served."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, jsonify
from sqlalchemy import text

from kiosk.extensions import db, limiter

bp = Blueprint("health", __name__)


def database_ok() -> tuple[bool, str]:
    """Return whether the database answers, and a short detail."""
    try:
        db.session.execute(text("SELECT 1"))
        return True, db.engine.dialect.name
    except Exception as exc:  # any driver error means "not reachable"
        db.session.rollback()
        return False, type(exc).__name__


@bp.get("/healthz")
@limiter.exempt
def healthz():
    station = current_app.extensions["station"]
    ok, detail = database_ok()
    body = {
        "station": station.name,
        "branch": station.branch,
        "database": {"state": "ok" if ok else "error", "detail": detail},
        **{name: dev.as_dict() for name, dev in station.devices.items()},
    }
    body["status"] = "ok" if ok else "unavailable"
    return jsonify(body), 200 if ok else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
