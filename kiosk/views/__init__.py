"""Blueprints by audience: patron kiosk, JSON API, health (staff pages join later)."""

from __future__ import annotations

import importlib

from flask import Flask

from kiosk.views.errors import register_error_handlers

BLUEPRINTS = ("kiosk.views.patron", "kiosk.views.health", "kiosk.api", "kiosk.offers.views",
              "kiosk.views.printing", "kiosk.views.pickup", "kiosk.ils.staffpage")
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
