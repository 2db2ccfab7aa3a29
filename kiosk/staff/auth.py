"""Who is logged in on the staff pages: session handling, login guard and roles.

A staff session lives in Flask's signed cookie: `staff_id`, `staff_gen` (the account's
session generation at login) and `staff_seen` (last activity, seconds since the epoch).
Whether it still stands is kiosk.domain.staff_sessions' decision: a session idle for longer
than `[staff] session_minutes` ends; so does one whose account is gone, or whose account's
generation moved on (logout anywhere, new password, new role, unlock).
`staff_seen` is written at most every `SEEN_STEP_S` seconds (staff_sessions), so that requests that
change nothing else do not rewrite the cookie (a rewrite by a slow request would
carry an older cookie's flash messages back).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, redirect, request, session, url_for
from flask_babel import get_locale
from werkzeug.exceptions import Forbidden

from kiosk import clock
from kiosk.domain import staff_sessions
from kiosk.domain.orders import Actor
from kiosk.domain.shelving import with_retry
from kiosk.extensions import db
from kiosk.models import StaffUser

F = TypeVar("F", bound=Callable[..., Any])

# Endpoints of the staff blueprint that need no login.
PUBLIC_ENDPOINTS = {"staff.login", "staff.card_login"}

def _timeout_s() -> int:
    return current_app.extensions["station"].settings.staff.session_minutes * 60


def current_staff() -> StaffUser | None:
    """Return the logged-in staff member of this request, or None."""
    # Cached on the request, not on `g`: an app context may outlive one request in tests.
    if hasattr(request, "kiosk_staff"):
        return request.kiosk_staff
    user = None
    staff_id = session.get("staff_id")
    if staff_id is not None:
        verdict = staff_sessions.check_session(
            db.session, staff_id, session.get("staff_gen"), session.get("staff_seen", 0),
            clock.timestamp(), _timeout_s())
        user = verdict.user
        if user is None:
            logout_user()
            request.kiosk_staff_timed_out = verdict.timed_out
        elif verdict.seen is not None:
            session["staff_seen"] = verdict.seen
    request.kiosk_staff = user
    return user


def login_user(user: StaffUser) -> None:
    """Start a staff session for user (a fresh session, so no fixation)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session.permanent = True
    session["staff_id"] = user.id
    session["staff_gen"] = user.session_generation
    session["staff_seen"] = int(clock.timestamp())
    request.kiosk_staff = user


def logout_user(everywhere: bool = False) -> None:
    """End the staff session; everywhere: every session of this user, on every station."""
    user = current_staff() if everywhere else None
    if user is not None:
        with_retry(db.session, lambda: staff_sessions.end_sessions(user))
    for key in ("staff_id", "staff_gen", "staff_seen"):
        session.pop(key, None)
    request.kiosk_staff = None


def is_admin() -> bool:
    """Return True when the logged-in staff member is an admin."""
    user = current_staff()
    return user is not None and user.role == "admin"


def actor() -> Actor:
    """Return the audit-trail actor of this request: staff username and station name."""
    user = current_staff()
    station = current_app.extensions["station"]
    return Actor(name=user.username if user else "anonymous", station=station.name)


def _wants_json() -> bool:
    return (request.is_json or request.accept_mimetypes.best == "application/json"
            or request.headers.get("X-Requested-With") == "fetch")


def refuse_anonymous():
    """Return the response for a request without a staff session: 401 JSON or a redirect."""
    if _wants_json():
        from kiosk.views.errors import json_error

        return json_error(401, "login required", "Log in at /staff/login")
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    timed_out = getattr(request, "kiosk_staff_timed_out", False)
    return redirect(url_for("staff.login", next=target, timeout=1 if timed_out else None))


def login_required(view: F) -> F:
    """Refuse the view to requests without a staff session."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_staff() is None:
            return refuse_anonymous()
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def admin_required(view: F) -> F:
    """Refuse the view to anyone but a logged-in admin (403 for other staff)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_staff()
        if user is None:
            return refuse_anonymous()
        if user.role != "admin":
            raise Forbidden("This page is for admins")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def guard_blueprint():
    """Refuse every staff page but the login ones to requests without a staff session."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if current_staff() is None:
        return refuse_anonymous()
    return None


def init_app(app: Flask) -> None:
    """Give staff templates the logged-in staff member and the navigation links."""

    @app.context_processor
    def staff_context() -> dict[str, Any]:
        if not request.path.startswith("/staff"):
            return {}
        nav = [(e, label, admin) for e, label, admin in app.extensions.get("staff_nav", [])
               if e in app.view_functions]
        return {"staff_user": current_staff(), "staff_nav": nav,
                "staff_lang": str(get_locale() or "nb")}
