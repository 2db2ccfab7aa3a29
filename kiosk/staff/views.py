"""Staff login and logout, the staff home page, and kiosk staff mode by card + PIN."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import (
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from kiosk import webpolicy
from kiosk.domain import accounts
from kiosk.domain.cards import mask
from kiosk.extensions import csrf, db
from kiosk.staff import auth, bp
from kiosk.staff.forms import ActionForm, LoginForm
from kiosk.views.errors import json_error

log = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and target.startswith("/staff"):
        return target
    return url_for("staff.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if request.args.get("timeout"):
            flash(_("Your session timed out. Please log in again."), "info")
    status, wait = 200, None
    if form.validate_on_submit():
        user, refused = webpolicy.try_login(lambda: accounts.authenticate(
            db.session, form.username.data, form.password.data, webpolicy.throttle(),
            webpolicy.client_address()))
        if user is not None:
            auth.login_user(user)
            log.info("staff %s logged in", user.username)
            return redirect(_safe_next(form.next.data))
        kind, wait = refused
        if kind == "busy":
            flash(_("Many logins at once. Please try again in a moment."), "error")
            status = 429
        elif kind == "locked":
            log.warning("staff login refused: too many failures for %r", form.username.data)
            flash(_("Too many failed attempts. The account is locked for a while."), "error")
            status = 429
        else:
            log.info("staff login failed for %r", form.username.data)
            flash(_("Wrong username or password."), "error")
            status = 401
    elif request.method == "POST":
        status = 400
    response = make_response(render_template("staff/login.html", form=form), status)
    return webpolicy.retry_after(response, wait) if status == 429 else response


@bp.post("/logout")
def logout():
    ActionForm()  # CSRF is checked by CSRFProtect before we get here
    auth.logout_user(everywhere=True)
    flash(_("You are logged out."), "info")
    return redirect(url_for("staff.login"))


@bp.post("/card-login")
@csrf.exempt  # JSON only: a cross-site page cannot send application/json without CORS
def card_login():
    """Switch a kiosk screen into staff mode by staff card and PIN, if configured."""
    if not current_app.extensions["station"].settings.kiosk.staff_pin:
        return json_error(404, "not found", "Staff mode by card and PIN is not configured")
    if not request.is_json:
        return json_error(415, "expected JSON", 'Send {"card": "...", "pin": "..."}')
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict) or not all(
            isinstance(payload.get(k), str) and 0 < len(payload[k]) <= 64
            for k in ("card", "pin")):
        return json_error(400, "bad request", 'Send {"card": "...", "pin": "..."} as strings')
    user, refused = webpolicy.try_login(lambda: accounts.authenticate_card(
        db.session, payload["card"], payload["pin"], webpolicy.throttle(),
        webpolicy.client_address()))
    if user is None:
        log.info("staff card login refused for card %s (%s)", mask(payload["card"]),
                 refused[0])
        return webpolicy.refused_json(refused, "wrong card or PIN")
    auth.login_user(user)
    log.info("staff %s switched a kiosk into staff mode", user.username)
    return jsonify({"ok": True, "user": user.username, "redirect": url_for("staff.index")})


@bp.get("/")
def index():
    return redirect(url_for("staff.pick_list"))
