"""Errors as JSON `{"error", "detail"}` for machine clients, a plain page for people."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from kiosk.domain.orders import OrderError

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/kiosk/", "/healthz")


def wants_json() -> bool:
    """Return True when the client of this request expects JSON."""
    return request.path.startswith(JSON_PREFIXES) or request.is_json


def json_error(status: int, error: str, detail: object = None):
    """Return a JSON error response."""
    return jsonify({"error": error, "detail": detail}), status


def register_error_handlers(app: Flask) -> None:
    """Answer every error in the form the client expects, never with a traceback."""

    @app.errorhandler(OrderError)
    def order_error(exc: OrderError):
        if wants_json():
            return json_error(exc.status_code, str(exc), exc.detail)
        return render_template("error.html", code=exc.status_code, message=str(exc)), \
            exc.status_code

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            response = json_error(exc.code or 500, exc.name.lower(), exc.description)
            if exc.code == 405 and exc.valid_methods:
                response[0].headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        return render_template("error.html", code=exc.code, message=exc.description), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        if wants_json():
            return json_error(500, "internal error", None)
        return render_template("error.html", code=500, message="Internal error"), 500
