"""The integration API (/api/v1): JSON over HTTP with bearer tokens, no CSRF."""

from __future__ import annotations

from flask import Flask

from kiosk.api import actions  # noqa: F401  (its routes join the blueprint)
from kiosk.api.orders import bp
from kiosk.extensions import csrf


def init_app(app: Flask) -> None:
    """Register the API blueprint; token-authenticated, so CSRF does not apply."""
    csrf.exempt(bp)
    app.register_blueprint(bp)
