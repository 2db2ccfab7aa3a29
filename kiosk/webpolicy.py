"""The web policy that patron and staff pages share: headers, proxy hop, cookies, logins.

One place for what every response of the station promises the browser, so that the patron
screen, the staff pages and the API cannot drift apart.

- **Headers.** Every response carries a Content-Security-Policy that allows scripts and
  styles only from the station itself (no inline script, no `eval`, no inline style), no
  framing (`frame-ancestors 'none'`), `X-Content-Type-Options: nosniff` and a
  `Referrer-Policy` that sends the referrer to the station itself only (Flask-WTF checks it
  on HTTPS posts) and never to an offer's site.
- **Printable documents** (the slot-label sheet) are self-contained: no script at all,
  their own inline style; `printable_document` gives them a policy of their own.
- **Proxy.** With `[server] trusted_proxy = true`, the client address and scheme come from
  `X-Forwarded-For` / `X-Forwarded-Proto` of exactly one reverse-proxy hop (werkzeug's
  ProxyFix); rate limits then see the real client. Without it those headers are ignored.
- **Cookies.** `[server] secure_cookies = true` marks the session cookie `Secure` (behind TLS).
- **Logins** (staff password, staff card + PIN, the kiosk's staff mode, the patron PIN)
  pass three gates before any secret is checked:

  1. the flood gate (kiosk.floodgate, in front of Flask): attempts per client address and
     in total (`LOGIN_PER_ADDRESS`, `LOGIN_TOTAL`), shared by every login endpoint;
  2. the LoginThrottle: failures per account and address, and per account
     (kiosk.domain.throttle);
  3. `hash_slot()` (kiosk.floodgate.HashSlots): at most `[staff] login_hashes` argon2
     hashes at once (each takes 64 MiB and a core); one more is refused at once with 429
     and Retry-After, never queued.

  No request thread sleeps. A refused attempt answers 429 with Retry-After.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from flask import (
    Flask,
    Response,
    current_app,
    has_request_context,
    render_template,
    request,
    session,
)
from flask_babel import force_locale
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from kiosk.domain import accounts
from kiosk.domain.throttle import LockoutPolicy, LoginThrottle
from kiosk.extensions import db, limiter
from kiosk.floodgate import HashesBusy, HashSlots, LoginFloodGate
from kiosk.models import StaffUser
from kiosk.views.errors import json_error

# Images only from the station itself: offer pictures are fetched and served by the station
# (kiosk/offers/images.py), so no page makes a browser reach an address a feed names; QR
# codes are data: URLs.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

# A document to print: nothing runs, nothing loads, its styles are its own.
DOCUMENT_CSP = "; ".join([
    "default-src 'none'",
    "style-src 'unsafe-inline'",
    "img-src data:",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP level 2
    "Cross-Origin-Opener-Policy": "same-origin",
}


# Staff pages and API answers hold cards, names and orders: no browser or proxy keeps them
# (a shared desk PC's back button or disk cache must not show them to the next person).
PRIVATE_PREFIXES = ("/staff", "/api/")


def security_headers(response: Response) -> Response:
    """Add the station's security headers to a response (a view's own CSP is kept)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if has_request_context() and request.path.startswith(PRIVATE_PREFIXES):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def printable_document(response: Response) -> Response:
    """Give a self-contained printable document (inline style, no script) its own policy."""
    response.headers["Content-Security-Policy"] = DOCUMENT_CSP
    return response


# --- logins ------------------------------------------------------------------------------

LOGIN_PER_ADDRESS = "10/minute;100/hour"
LOGIN_TOTAL = "60/minute"
HASH_BUSY_RETRY_S = 1


def client_address() -> str:
    """Return the client's address as the rate limits see it."""
    return request.remote_addr or "unknown"


def _refusal_page(app: Flask) -> bytes:
    """Return the flood gate's page for people (the error page, in the station's language)."""
    page = app.extensions.get("login_refusal_page")
    if page is None:
        language = app.config["KIOSK_SETTINGS"].station.language
        with app.test_request_context("/staff/login"), force_locale(language):
            page = render_template("error.html", code=429).encode()
        app.extensions["login_refusal_page"] = page
    return page


def throttle() -> LoginThrottle:
    """Return this app's login throttle."""
    return current_app.extensions["login_throttle"]


def hash_slot() -> AbstractContextManager[None]:
    """Hold one of the password-hash slots for the block; raise HashesBusy when none is free."""
    slots: HashSlots = current_app.extensions["login_hash_gate"]
    return slots.hold()


def retry_after(response: Response, seconds: float) -> Response:
    """Tell the client when to try again (whole seconds, at least one)."""
    response.headers["Retry-After"] = str(max(1, int(seconds + 0.999)))
    return response


def _add_retry_after(response: Response) -> Response:
    if response.status_code == 429 and "Retry-After" not in response.headers:
        limit = limiter.current_limit
        wait = limit.reset_at - time.time() if limit is not None else HASH_BUSY_RETRY_S
        retry_after(response, wait)
    return response


def try_login(check: Callable[[], StaffUser]) -> tuple[StaffUser | None, tuple | None]:
    """Run a login check behind the hash gate: (user, None) or (None, (kind, retry_after))."""
    try:
        with hash_slot():
            user = check()
    except HashesBusy:
        return None, ("busy", HASH_BUSY_RETRY_S)
    except accounts.AccountLocked as exc:
        return None, ("locked", exc.retry_after)
    except accounts.LoginFailed:
        return None, ("failed", 0)
    db.session.commit()  # a rehashed password
    return user, None


def refused_json(refused: tuple[str, float], failed: str):
    """Return the JSON answer of a refused card login: 429 with Retry-After, or 401."""
    kind, wait = refused
    if kind == "failed":
        return json_error(401, failed)
    if kind == "busy":
        response = json_error(429, "busy", "Many logins at once; try again in a moment")
    else:
        response = json_error(429, "account locked", "Too many failed attempts; try again later")
    retry_after(response[0], wait)
    return response


# --- numbers from the URL ---------------------------------------------------------------

# Ids are 32-bit on PostgreSQL (SERIAL) and 64-bit on SQLite: an id past the smaller range
# names nothing on either, so the router answers 404 before any query is built.
MAX_ID = 2**31 - 1
MAX_OFFSET = 2**63 - 1  # SQL's OFFSET is a signed 64-bit number on both


class IdIntegerConverter(IntegerConverter):
    """`<int:...>` in every route: a non-negative id within the database's integer range.

    Past the range it is 404 at once (raised here: werkzeug's own `max` check would let
    a rule of the same path with other methods answer 405).
    """

    def to_python(self, value: str) -> int:
        number = super().to_python(value)
        if number > MAX_ID:
            raise NotFound("No such id")
        return number


def int_arg(name: str, default: int, minimum: int = 0, maximum: int = MAX_OFFSET) -> int:
    """Return query parameter name as a whole number in range; 400 for anything else."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"The {name} parameter must be a whole number") from None
    if not minimum <= value <= maximum:
        raise BadRequest(f"The {name} parameter must be between {minimum} and {maximum}")
    return value


# --- the per-screen secret --------------------------------------------------------------

SCREEN_KEY = "screen"
MAX_EVENT_ID = 64


def screen_token(create: bool = False) -> str | None:
    """Return this screen's secret (kept in its session cookie); make one when asked."""
    token = session.get(SCREEN_KEY)
    if token is None and create:
        token = session[SCREEN_KEY] = secrets.token_urlsafe(18)
    return token


def event_id_of(payload: object) -> str | None:
    """Return the event id a screen posted (text, as the station made it), or None."""
    value = payload.get("event_id") if isinstance(payload, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= MAX_EVENT_ID else None


def init_app(app: Flask) -> None:
    """Apply the policy to app: headers, proxy trust, cookie flags, login gates, Retry-After."""
    server = app.config["KIOSK_SETTINGS"].server
    if app.config.get("RATELIMIT_ENABLED", True):  # off with [kiosk] rate_limit = "off"
        # Inside ProxyFix (wrapped next), so it counts the real client.
        app.wsgi_app = LoginFloodGate(app.wsgi_app, LOGIN_PER_ADDRESS, LOGIN_TOTAL,
                                      page=lambda: _refusal_page(app), headers=HEADERS)
    if server.trusted_proxy:
        # Exactly one hop: the address the proxy saw and the scheme it was reached by.
        # Host, port and prefix stay the station's own.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0, x_port=0,
                                x_prefix=0)
    if server.secure_cookies:
        app.config["SESSION_COOKIE_SECURE"] = True
    app.after_request(security_headers)
    app.url_map.converters["int"] = IdIntegerConverter  # before any blueprint adds its routes
    staff = app.config["KIOSK_SETTINGS"].staff
    app.extensions["login_throttle"] = LoginThrottle(
        LockoutPolicy(attempts=staff.lockout_attempts, minutes=staff.lockout_minutes))
    app.extensions["login_hash_gate"] = HashSlots(staff.login_hashes)
    app.after_request(_add_retry_after)
