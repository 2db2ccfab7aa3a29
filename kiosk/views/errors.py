"""Errors as JSON `{"error", "detail"}` for machine clients, a plain page for people."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from kiosk.dbwatch import DatabaseFileGone, is_disk_full
from kiosk.domain import import_files
from kiosk.domain.messages import N_
from kiosk.domain.orders import OrderError
from kiosk.extensions import db

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/kiosk/", "/healthz")


def wants_json() -> bool:
    """Return True when the client of this request expects JSON."""
    return request.path.startswith(JSON_PREFIXES) or request.is_json


def json_error(status: int, error: str, detail: object = None):
    """Return a JSON error response."""
    return jsonify({"error": error, "detail": detail}), status


DISK_FULL = N_("The database disk is full: nothing was saved. Tell IT to free disk space; "
               "the station carries on by itself once there is room.")
FILE_GONE = N_("The database file was removed or replaced while the station was running: "
               "nothing was saved. Tell IT; the station must be restarted.")


def storage_error(status: int, error: str, message: str):
    """Answer a write the database could not keep: JSON for machines and the pages' scripts.

    The API and the patron screen get the English text (the screen shows its own); staff
    read it in their language.
    """
    if request.path.startswith(("/api/", "/kiosk/", "/healthz")):
        return json_error(status, error, message)
    text = gettext(message)
    if request.is_json or request.headers.get("X-Requested-With") == "fetch":
        return jsonify({"error": error, "detail": text, "ok": False, "message": text}), status
    return render_template("error.html", code=status, message=text), status


def too_large():
    """Refuse a body past the upload limit in the staff's language, naming the limit."""
    text = gettext(import_files.TOO_LARGE, mib=import_files.MAX_BYTES // (1024 * 1024))
    if request.is_json or request.headers.get("X-Requested-With") == "fetch":
        return jsonify({"error": "payload too large", "detail": text, "ok": False,
                        "message": text}), 413
    return render_template("error.html", code=413, message=text, translated=True), 413


def register_error_handlers(app: Flask) -> None:
    """Answer every error in the form the client expects, never with a traceback."""
    # nginx answers a body past its own limit with this page (error_page 413 in
    # deploy/nginx-kiosk.conf), so that refusal too is in the staff's language.
    app.add_url_rule("/staff/upload-too-large", "upload_too_large", too_large)

    @app.errorhandler(OrderError)
    def order_error(exc: OrderError):
        if wants_json():
            return json_error(exc.status_code, str(exc), exc.detail)
        return render_template("error.html", code=exc.status_code, message=str(exc)), \
            exc.status_code

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413 and not request.path.startswith(JSON_PREFIXES):
            return too_large()
        if wants_json():
            response = json_error(exc.code or 500, exc.name.lower(), exc.description)
            if exc.code == 405 and exc.valid_methods:
                response[0].headers["Allow"] = ", ".join(exc.valid_methods)
            return response
        return render_template("error.html", code=exc.code, message=exc.description), exc.code

    @app.errorhandler(StaleDataError)
    def changed_meanwhile(exc: StaleDataError):
        # A write that lost to another change of the order at the same moment (issue 23):
        # the domain's 409, whichever door forgot to say so itself.
        db.session.rollback()
        return order_error(OrderError(N_("The order was changed by someone else at the "
                                         "same moment; nothing was done"),
                                      {"kind": "changed_meanwhile"}))

    @app.errorhandler(SQLAlchemyError)
    def database_error(exc: SQLAlchemyError):
        # A station that can tell an unreachable database (kiosk.outage) answers its 503.
        unreachable = app.extensions.get("database_unreachable")
        answer = unreachable(exc) if unreachable is not None else None
        if answer is not None:
            try:
                db.session.rollback()
            except SQLAlchemyError:  # nothing to roll back on a dead connection
                pass
            return answer
        if not is_disk_full(exc):
            return unexpected(exc)
        log.error("write refused on %s %s: the database disk is full", request.method,
                  request.path)
        return storage_error(507, "insufficient storage", DISK_FULL)

    @app.errorhandler(DatabaseFileGone)
    def file_gone(exc: DatabaseFileGone):
        return storage_error(503, "database file gone", FILE_GONE)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.path)
        if wants_json():
            return json_error(500, "internal error", None)
        return render_template("error.html", code=500, message="Internal error"), 500
