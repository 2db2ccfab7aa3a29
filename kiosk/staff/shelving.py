"""Staff pages (work in progress)."""

from __future__ import annotations

from flask import render_template

from kiosk.staff import bp


@bp.get("/shelving")
def shelving():
    return render_template("staff/base.html")


@bp.get("/shelves")
def shelf_map():
    return render_template("staff/base.html")
