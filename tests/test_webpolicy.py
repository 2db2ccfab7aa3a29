"""The shared web policy: security headers, one trusted proxy hop, Secure cookies, logins.

Login floods: limits per address and in total, a bound on hashes at once, no sleeping.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from staff_helpers import PASSWORD, make_user

from kiosk import create_app
from kiosk.cli import main
from kiosk.config import ConfigError, parse
from kiosk.floodgate import HashesBusy

CARD = {"code": "N123456789"}


@pytest.mark.parametrize("path", ["/", "/staff/login", "/healthz", "/api/v1/openapi.json",
                                  "/static/js/kiosk.js", "/no/such/page", "/kiosk/offers"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    response.close()  # a static file is streamed from an open file
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_staff_pages_and_api_answers_are_never_stored(client, app):
    """Cards, names and orders stay out of browser and proxy caches (a shared desk PC's back
    button); the patron screen's scripts and styles may still be cached."""
    make_user(app, "kari", "admin")
    client.post("/staff/login", data={"username": "kari", "password": PASSWORD})
    for path in ("/staff/login", "/staff/orders", "/staff/no-such-page", "/api/v1/orders",
                 "/api/v1/openapi.json"):
        response = client.get(path)
        assert response.headers.get("Cache-Control") == "no-store", (path, response.status)
    for path in ("/static/js/kiosk.js", "/static/css/staff.css"):
        response = client.get(path)
        response.close()
        assert "no-store" not in response.headers.get("Cache-Control", ""), path


def test_errors_and_posts_carry_them_too(client):
    response = client.post("/kiosk/scan", data="not json")
    assert response.status_code == 415
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def _scan_from(client, forwarded: str) -> int:
    return client.post("/kiosk/scan", json=CARD, headers={"X-Forwarded-For": forwarded},
                       environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"rate_limit": "2/minute"},
                                               "server": {"trusted_proxy": True}}])
def test_behind_a_trusted_proxy_the_limit_counts_the_real_client(client):
    assert [_scan_from(client, "192.0.2.1") for _ in range(3)] == [200, 200, 429]
    # another client behind the same proxy has its own count
    assert _scan_from(client, "192.0.2.2") == 200
    # only the proxy's own hop counts: addresses a client puts in front of it do not
    assert _scan_from(client, "198.51.100.7, 192.0.2.1") == 429


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"rate_limit": "2/minute"}}])
def test_without_a_trusted_proxy_forwarded_addresses_are_ignored(client):
    codes = [_scan_from(client, f"192.0.2.{n}") for n in range(1, 4)]
    assert codes == [200, 200, 429]  # all of them are 127.0.0.1


@pytest.mark.parametrize("config_overrides", [{"server": {"trusted_proxy": True}}])
def test_trusted_proxy_takes_the_scheme_from_the_proxy(app, client):
    @app.get("/test-scheme")
    def scheme():
        from flask import request
        return {"scheme": request.scheme, "remote": request.remote_addr,
                "host": request.host}

    body = client.get("/test-scheme", headers={"X-Forwarded-Proto": "https",
                                               "X-Forwarded-For": "192.0.2.9",
                                               "X-Forwarded-Host": "evil.example"}).json
    assert body == {"scheme": "https", "remote": "192.0.2.9", "host": "localhost"}


def _login_cookie(app, client) -> str:
    app.config["KIOSK_LOGIN_DELAY_S"] = 0
    make_user(app, "kari")
    response = client.post("/staff/login", data={"username": "kari", "password": PASSWORD})
    assert response.status_code == 302
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


@pytest.mark.parametrize("config_overrides", [{"server": {"secure_cookies": True}}])
def test_secure_cookies_key_marks_the_session_cookie_secure(app, client):
    cookie = _login_cookie(app, client)
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_cookies_are_not_secure_by_default(app, client):
    assert "Secure" not in _login_cookie(app, client)


def test_openapi_does_not_echo_the_host_header(client):
    spec = client.get("/api/v1/openapi.json", headers={"Host": "evil.example"}).json
    assert spec["servers"] == [{"url": "/api/v1"}]
    assert "evil" not in str(spec)


@pytest.mark.parametrize(("shelf", "problem"), [
    ({"slots": 100_000_000}, "shelves[0].slots: must be between 1 and 999"),
    ({"slots": 24, "capacity": 5000}, "shelves[0].capacity: must be between 1 and 100"),
])
def test_shelf_sizes_are_capped(shelf, problem):
    with pytest.raises(ConfigError) as err:
        parse({"shelves": [{"name": "A", **shelf}]})
    assert problem in str(err.value)


def test_too_many_shelves_is_a_config_error():
    shelves = [{"name": f"S{i}", "slots": 1} for i in range(201)]
    with pytest.raises(ConfigError, match="at most 200 shelves"):
        parse({"shelves": shelves})


def test_check_config_names_the_oversized_shelf(tmp_path, capsys):
    path = tmp_path / "kiosk.toml"
    path.write_text('[[shelves]]\nname = "A"\nslots = 100000000\n')
    assert main(["--config", str(path), "check-config"]) == 2
    err = capsys.readouterr().err
    assert "shelves[0].slots" in err and "100000000" in err and str(path) in err


# --- logins ------------------------------------------------------------------------------

LIMITED = {"kiosk": {"rate_limit": "30/minute", "staff_pin": True}}
LOGIN_ENDPOINTS = [
    ("/staff/login", lambda n: {"data": {"username": f"made-up-{n}", "password": "guess"}}),
    ("/staff/card-login", lambda n: {"json": {"card": f"S{n:04d}", "pin": "1234"}}),
    ("/kiosk/staff-login", lambda n: {"json": {"event_id": "x", "pin": "1234"}}),
    ("/kiosk/pin", lambda n: {"json": {"event_id": "x", "pin": "1234"}}),
]


@pytest.fixture
def no_sleep(monkeypatch):
    """Fail the test if anything sleeps in the request thread."""

    def forbidden(seconds):
        raise AssertionError(f"a request thread slept {seconds} s")

    monkeypatch.setattr(time, "sleep", forbidden)


@pytest.mark.parametrize("config_overrides", [LIMITED])
@pytest.mark.parametrize("path, body", LOGIN_ENDPOINTS)
def test_attempts_per_address_are_limited(client, no_sleep, path, body):
    address = {"REMOTE_ADDR": "10.0.0.7"}
    codes = [client.post(path, environ_base=address, **body(n)).status_code for n in range(10)]
    assert 429 not in codes
    r = client.post(path, environ_base=address, **body(11))
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 61
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    if path == "/staff/login":  # people read it in the station's language
        assert "<h1>Vent litt</h1>" in r.get_data(as_text=True)
    else:
        assert r.json["error"] == "too many requests"
    # another address is not refused
    assert client.post(path, environ_base={"REMOTE_ADDR": "10.0.0.8"}, **body(12)) \
        .status_code != 429


@pytest.mark.parametrize("config_overrides", [LIMITED])
def test_attempts_in_total_are_limited_and_shared_by_the_login_endpoints(client, no_sleep):
    for n in range(60):
        path, body = LOGIN_ENDPOINTS[n % 2]
        r = client.post(path, environ_base={"REMOTE_ADDR": f"10.1.{n // 250}.{n % 250}"},
                        **body(n))
        assert r.status_code != 429, n
    r = client.post("/kiosk/pin", environ_base={"REMOTE_ADDR": "10.2.0.1"},
                    json={"event_id": "x", "pin": "1"})
    assert r.status_code == 429 and "Retry-After" in r.headers


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"staff_pin": True}}])
def test_hashes_beyond_the_bound_are_refused_at_once(client, app, no_sleep):
    make_user(app, card="S0001", pin="4711")
    gate = app.extensions["login_hash_gate"]
    with gate.hold():  # the one slot is taken by a login in progress
        r = client.post("/staff/login?lang=en", data={"username": "kari", "password": PASSWORD})
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"
        assert "Many logins at once" in r.get_data(as_text=True)
        r = client.post("/staff/card-login", json={"card": "S0001", "pin": "4711"})
        assert r.status_code == 429 and r.json["error"] == "busy"
        assert r.headers["Retry-After"] == "1"
    assert client.post("/staff/login", data={"username": "kari", "password": PASSWORD}) \
        .status_code == 302


def test_the_hash_bound_is_configurable(make_settings):
    app = create_app(make_settings({"staff": {"login_hashes": 3}}), {"TESTING": True})
    gate = app.extensions["login_hash_gate"]
    with contextlib.ExitStack() as held:
        for _ in range(3):
            held.enter_context(gate.hold())
        with pytest.raises(HashesBusy), gate.hold():
            pass
