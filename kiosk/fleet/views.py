"""Staff page /staff/stations: every station's last heartbeat, in the staff's language."""

from __future__ import annotations

import json

from flask import Blueprint, Flask, current_app, render_template
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext

from kiosk.extensions import db
from kiosk.fleet.heartbeat import GREEN, OK_STATES, RED, YELLOW, aware, state_of, stations
from kiosk.staff import register_nav
from kiosk.staff.auth import login_required

bp = Blueprint("fleet", __name__, url_prefix="/staff")

STATES = {GREEN: _l("All well"), YELLOW: _l("A device needs attention"),
          RED: _l("No heartbeat for 2 minutes")}
DEVICES = {"scanner": _l("Scanner"), "printer": _l("Printer"), "ils": _l("Library system")}
DEVICE_STATES = {"absent": _l("not configured"), "connected": _l("connected"),
                 "ok": _l("ok"), "disconnected": _l("disconnected"), "error": _l("error"),
                 "closed": _l("stopped")}


def ago(seconds: float) -> str:
    """Return how long ago, in words of the page's language."""
    if seconds < 120:
        n = max(int(seconds), 0)
        return ngettext("%(num)d second ago", "%(num)d seconds ago", n)
    if seconds < 7200:
        n = int(seconds // 60)
        return ngettext("%(num)d minute ago", "%(num)d minutes ago", n)
    n = int(seconds // 3600)
    return ngettext("%(num)d hour ago", "%(num)d hours ago", n)


def device_note(detail: str) -> str:
    """Return what staff can act on in a device's detail, translated when known."""
    if detail.endswith("out of paper"):
        return str(_l("out of paper"))
    if detail.endswith("paper low"):
        return str(_l("paper low"))
    return ""


@bp.get("/stations")
@login_required
def overview():
    now = current_app.extensions["fleet"].clock()
    rows = []
    for hb in stations(db.session):
        devices = []
        for name, d in json.loads(hb.devices or "{}").items():
            devices.append({"name": DEVICES.get(name, name), "ok": d.get("state") in OK_STATES,
                            "state": DEVICE_STATES.get(d.get("state"), d.get("state")),
                            "note": device_note(d.get("detail", "")),
                            "detail": d.get("detail", "")})
        state = state_of(hb, now)
        last_scan = aware(hb.last_scan_at)
        rows.append({"hb": hb, "state": state, "state_text": STATES[state], "devices": devices,
                     "seen": ago((now - aware(hb.seen_at)).total_seconds()),
                     "last_scan": ago((now - last_scan).total_seconds()) if last_scan else None})
    return render_template("fleet/stations.html", rows=rows,
                           here=current_app.extensions["station"].name)


def init_app(app: Flask) -> None:
    """Register the page and its link in the staff navigation."""
    app.register_blueprint(bp)
    register_nav(app, "fleet.overview", "Stations")
