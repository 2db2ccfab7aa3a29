"""Staff pages (work in progress)."""

from __future__ import annotations

from flask import render_template

from kiosk.staff import bp


@bp.get("/orders")
def orders():
    return render_template("staff/base.html")


@bp.get("/orders/new")
def new_order():
    return render_template("staff/base.html")
