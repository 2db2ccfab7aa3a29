"""The shared web policy: security headers everywhere, one trusted proxy hop, Secure cookies."""

from __future__ import annotations

import pytest
from staff_helpers import PASSWORD, make_user

from kiosk.cli import main
from kiosk.config import ConfigError, parse

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
