"""The web policy that patron and staff pages share: security headers, the proxy hop, cookies.

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
"""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

# Offer images come from the library's sites and feeds (http or https, as configured);
# QR codes are data: URLs. Images cannot run anything.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https: http:",
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


def security_headers(response: Response) -> Response:
    """Add the station's security headers to a response (a view's own CSP is kept)."""
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def printable_document(response: Response) -> Response:
    """Give a self-contained printable document (inline style, no script) its own policy."""
    response.headers["Content-Security-Policy"] = DOCUMENT_CSP
    return response


def init_app(app: Flask) -> None:
    """Apply the policy to app: headers on every response, proxy trust, cookie flags."""
    server = app.config["KIOSK_SETTINGS"].server
    if server.trusted_proxy:
        # Exactly one hop: the address the proxy saw and the scheme it was reached by.
        # Host, port and prefix stay the station's own.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=0, x_port=0,
                                x_prefix=0)
    if server.secure_cookies:
        app.config["SESSION_COOKIE_SECURE"] = True
    app.after_request(security_headers)
