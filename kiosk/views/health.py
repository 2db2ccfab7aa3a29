"""GET /healthz: database, scanner, printer and ILS link; 200 if patrons can be served.

The database is "ok" when it answers and can keep writes: a full disk ("disk full") or a
removed or replaced SQLite file ("file gone") answer 503 (kiosk.dbwatch).
"""

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
    outage = current_app.extensions.get("outage")  # kiosk.outage, on PostgreSQL stations
    if outage is not None and outage.down():  # known away: no connection attempt to wait on
        ok, detail = False, outage.detail
    else:
        ok, detail = database_ok()
    state = "ok" if ok else "error"
    trouble = current_app.extensions["db_watch"].state() if ok else None
    if trouble:  # it answers, but cannot keep what it is given
        ok, (state, detail) = False, trouble
    serving = False  # patrons served although the database is away (from the snapshot)
    if outage is not None:
        snapshot = outage.health()
        serving = not ok and snapshot["answering_scans"]
        if outage.down():
            state = "unreachable"
    body = {
        "station": station.name,
        "branch": station.branch,
        "database": {"state": state, "detail": detail},
        **{name: dev.as_dict() for name, dev in station.devices.items()},
    }
    if outage is not None:
        body["snapshot"] = snapshot
    body["status"] = "ok" if ok else "degraded" if serving else "unavailable"
    return jsonify(body), 200 if ok or serving else 503


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
