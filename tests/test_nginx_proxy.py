"""Staff over the network: real nginx with deploy/nginx-kiosk.conf and a throw-away CA in
front of a real waitress-served station; HTTPS with certificate checking, only /staff,
/api and /static through, the client's address seen only with `trusted_proxy`."""

from __future__ import annotations

import http.client
import http.cookiejar
import json
import os
import re
import socket
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request

import pytest
from nginx_proxy import NginxProxy, make_certificates, nginx_binary
from staff_helpers import PASSWORD, make_user

from kiosk import create_app
from kiosk.extensions import db
from kiosk.schema import upgrade_database
from kiosk.serving import make_server, stop_server

# A second loopback address: the "staff PC" the proxy sees, unlike the proxy's own 127.0.0.1.
STAFF_PC = "127.0.0.2"


@pytest.fixture(scope="module")
def nginx() -> str:
    binary = nginx_binary()
    if binary is None:
        if os.environ.get("KIOSK_REQUIRE_NGINX"):
            pytest.fail("nginx not found and KIOSK_REQUIRE_NGINX is set")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    return binary


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("ca"))


def _station(make_settings, trusted: bool, limits: dict):
    settings = make_settings({"server": {"trusted_proxy": trusted, "secure_cookies": True,
                                         **limits}})
    app = create_app(settings, {"TESTING": True})  # CSRF on, as in production
    app.config["KIOSK_LOGIN_DELAY_S"] = 0
    upgrade_database(app)

    @app.get("/api/test-whoami")  # what the station takes for the client (test only)
    def whoami():
        from flask import request
        return {"remote_addr": request.remote_addr, "scheme": request.scheme}

    return app


@pytest.fixture
def trusted() -> bool:
    """Whether the station trusts the proxy's forwarded headers (parametrised below)."""
    return True


@pytest.fixture
def limits() -> dict:
    """Extra `[server]` keys of the station (parametrised below)."""
    return {}


@pytest.fixture
def metrics_block() -> bool:
    """Whether the site file's /metrics block is enabled (parametrised below)."""
    return False


@pytest.fixture
def proxied(trusted, limits, metrics_block, nginx, certs, make_settings, tmp_path):
    """A station served by waitress on loopback with nginx in front; yield (app, proxy)."""
    app = _station(make_settings, trusted, limits)
    server = make_server(app, "127.0.0.1", 0)
    app.config["TEST_SERVER"] = server
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    proxy = NginxProxy(tmp_path / "nginx", server.effective_port, certs, nginx,
                       metrics=metrics_block)
    try:
        with proxy:
            yield app, proxy
    finally:
        stop_server(app, server)
        thread.join(timeout=5)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def tls(certs) -> ssl.SSLContext:
    """A client context that trusts only the throw-away CA, and checks the host name."""
    context = ssl.create_default_context(cafile=str(certs.ca))
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    return context


def get(proxy, certs, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    """GET path through the proxy from STAFF_PC; return status, headers and body."""
    conn = http.client.HTTPSConnection("127.0.0.1", proxy.https_port, context=tls(certs),
                                       source_address=(STAFF_PC, 0), timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_staff_log_in_over_https_with_the_certificate_checked(proxied, certs):
    app, proxy = proxied
    make_user(app, "kari")
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls(certs)),
                                         urllib.request.HTTPCookieProcessor(jar))
    login_url = f"{proxy.url}/staff/login?lang=en"
    with opener.open(login_url, timeout=30) as page:
        form = page.read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "username": "kari",
                                   "password": PASSWORD}).encode()
    # A browser sends the page it posts from as Referer; Flask-WTF checks it over HTTPS.
    request = urllib.request.Request(f"{proxy.url}/staff/login", data=data,
                                     headers={"Referer": login_url})
    with opener.open(request, timeout=30) as answer:  # follows the redirect to /staff/…
        assert answer.status == 200
        assert answer.url.startswith(f"{proxy.url}/staff/")
        assert "/staff/login" not in answer.url
        assert "kari" in answer.read().decode()
    session_cookie = next(c for c in jar if c.name == "session")
    assert session_cookie.secure  # [server] secure_cookies
    # The staff page's own files come through too.
    with opener.open(f"{proxy.url}/static/js/staff.js", timeout=30) as script:
        assert script.status == 200
    # Without the CA the certificate is refused: the check above was real.
    with pytest.raises(urllib.error.URLError) as err:
        urllib.request.urlopen(f"{proxy.url}/staff/login", timeout=30,
                               context=ssl.create_default_context())
    assert isinstance(err.value.reason, ssl.SSLCertVerificationError)


HIDDEN = ["/", "/kiosk/scan", "/kiosk/events", "/kiosk/offers", "/healthz", "/kiosk/ping",
          "/metrics", "/staffroom", "/static/../healthz", "/%6Biosk/scan"]


def test_the_patron_side_and_health_are_not_reachable_through_the_proxy(proxied, certs):
    _app, proxy = proxied
    for path in HIDDEN:
        status, headers, body = get(proxy, certs, path)
        assert status == 404, path
        assert headers.get("Server") == "nginx" and b"<center>nginx</center>" in body, path
    # a scan posted through the proxy does not reach the station either
    conn = http.client.HTTPSConnection("127.0.0.1", proxy.https_port, context=tls(certs),
                                       timeout=30)
    conn.request("POST", "/kiosk/scan", body=b'{"code": "N123456789"}',
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 404 and response.getheader("Server") == "nginx"
    conn.close()


@pytest.mark.parametrize("trusted", [True, False], ids=["trusted_proxy", "untrusted_proxy"])
def test_the_station_sees_the_client_only_with_trusted_proxy(proxied, certs):
    app, proxy = proxied
    trusted = app.config["KIOSK_SETTINGS"].server.trusted_proxy
    # A forwarded address the client makes up is replaced by nginx, never believed.
    status, _headers, body = get(proxy, certs, "/api/test-whoami",
                                 {"X-Forwarded-For": "203.0.113.9"})
    assert status == 200
    seen = json.loads(body)
    if trusted:
        assert seen == {"remote_addr": STAFF_PC, "scheme": "https"}
    else:  # the proxy's own address and the station's own scheme
        assert seen == {"remote_addr": "127.0.0.1", "scheme": "http"}


@pytest.mark.parametrize("metrics_block", [True])
@pytest.mark.parametrize("trusted", [True, False], ids=["trusted_proxy", "untrusted_proxy"])
def test_metrics_through_the_proxy_need_the_token(proxied, certs):
    """Issue 26: with trusted_proxy off, waitress drops X-Forwarded-For, and the station
    took the proxy's request for one from its own loopback: 200 without any token."""
    _app, proxy = proxied
    status, _headers, body = get(proxy, certs, "/metrics")
    assert status == 403, body
    assert json.loads(body)["error"] == "forbidden"


def test_a_body_past_nginxs_limit_is_refused_by_the_stations_page(proxied, certs):
    """nginx's own 413 page was English; error_page hands the refusal to the station,
    which names the one upload limit in the staff's language (issue 26)."""
    _app, proxy = proxied
    conn = http.client.HTTPSConnection("127.0.0.1", proxy.https_port, context=tls(certs),
                                       source_address=(STAFF_PC, 0), timeout=30)
    try:
        conn.request("POST", "/staff/import?lang=nb", body=b"x" * (17 * 1024 * 1024),
                     headers={"Content-Type": "multipart/form-data; boundary=b"})
        response = conn.getresponse()
        body = response.read().decode()
    finally:
        conn.close()
    assert response.status == 413
    assert "<center>nginx</center>" not in body
    assert "8 MiB" in body and ("Filen er større" in body or "File larger" in body), body


def test_http_sends_staff_to_https(proxied):
    _app, proxy = proxied
    conn = http.client.HTTPConnection("127.0.0.1", proxy.http_port, timeout=30)
    conn.request("GET", "/staff/login")
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location").startswith("https://127.0.0.1/staff/login")
    conn.close()


def _slow_client(proxy, certs) -> ssl.SSLSocket:
    """Open a TLS connection to the proxy and send half a request header, no more."""
    raw = socket.create_connection(("127.0.0.1", proxy.https_port), timeout=30)
    conn = tls(certs).wrap_socket(raw, server_hostname="127.0.0.1")
    conn.sendall(b"GET /staff/login HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1\r\n")
    return conn


@pytest.mark.parametrize("limits", [{"connection_limit": 10}])
def test_nginx_holds_slow_clients_so_the_kiosk_still_scans(proxied, certs):
    app, proxy = proxied
    server = app.config["TEST_SERVER"]
    slow = [_slow_client(proxy, certs) for _ in range(25)]  # 2.5 x the station's limit
    try:
        # None of them reached the station: nginx has not passed on a half-read request.
        assert len(server.active_channels) == 0
        # The patron screen's scan, straight to the station on loopback, is answered.
        conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=30)
        conn.request("POST", "/kiosk/scan", body=b'{"code": "N123456789"}',
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        assert response.status == 200 and b'"outcome"' in response.read()
        conn.close()
    finally:
        for conn in slow:
            conn.close()
