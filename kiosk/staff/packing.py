"""Staff pages (work in progress)."""

from __future__ import annotations

from flask import render_template

from kiosk.staff import bp


@bp.get("/packing")
def pick_list():
    return render_template("staff/base.html")
