"""Blueprints by audience: patron kiosk, JSON API, health, staff (a desk: no patron kiosk)."""

from __future__ import annotations

import importlib

from flask import Flask, abort, current_app, redirect, request, url_for

from kiosk.views.errors import register_error_handlers

BLUEPRINTS = ("kiosk.views.patron", "kiosk.views.health", "kiosk.api", "kiosk.offers.views",
              "kiosk.views.printing", "kiosk.views.pickup", "kiosk.ils.staffpage",
              "kiosk.metrics", "kiosk.webhooks", "kiosk.fleet",
              "kiosk.speech.views", "kiosk.outage")
OPTIONAL = ("kiosk.staff",)


def register_blueprints(app: Flask) -> None:
    """Register every audience's blueprint and the JSON error handlers."""
    for name in BLUEPRINTS + OPTIONAL:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if name in OPTIONAL and exc.name == name:
                continue
            raise
        module.init_app(app)
    register_error_handlers(app)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    if app.config["KIOSK_SETTINGS"].station.role == "desk":
        app.before_request(_desk_guard)


def _favicon():
    """Serve the icon browsers ask for at /favicon.ico (the pages link it too)."""
    return current_app.send_static_file("img/favicon.ico")


PATRON_PREFIX = "/kiosk/"


def _desk_guard():
    """On a desk station the patron screen and every /kiosk/ route are not there.

    The desk's own address leads to the staff pages instead of a 404.
    """
    if request.path == "/":
        return redirect(url_for("staff.index"))
    if request.path.startswith(PATRON_PREFIX):
        abort(404)
    return None
