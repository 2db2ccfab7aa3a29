"""waitress's limits come from `[server]`: checked by config validation, applied to the server."""

from __future__ import annotations

import socket
import threading

import pytest

from kiosk.config import ConfigError, parse
from kiosk.serving import LIMITS, make_server, stop_server


@pytest.fixture
def running(app):
    """Serve app with waitress on a free loopback port; yield the server."""
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield server
    stop_server(app, server)
    thread.join(timeout=5)


LIMITED = {"server": {"connection_limit": 37, "channel_timeout": 1, "cleanup_interval": 1,
                      "backlog": 64, "max_request_header_size": 8192,
                      "max_request_body_size": 1_048_576}}


@pytest.mark.parametrize("config_overrides", [LIMITED])
def test_server_limits_reach_waitress(running):
    for key in LIMITS:
        assert getattr(running.adj, key) == LIMITED["server"][key], key
    assert running.adj.asyncore_use_poll  # select() would fail past 1024 descriptors


def test_defaults_are_safer_than_waitress_own(app):
    settings = app.config["KIOSK_SETTINGS"].server
    assert settings.connection_limit >= 300  # waitress: 100, which ~100 slow clients fill
    assert settings.channel_timeout <= 60  # waitress: 120 s
    assert settings.max_request_header_size <= 65_536  # waitress: 256 kB
    assert settings.max_request_body_size <= 64 * 1024 * 1024  # waitress: 1 GB


@pytest.mark.parametrize("config_overrides", [LIMITED])
def test_a_silent_half_sent_request_is_closed_after_channel_timeout(running):
    port = running.effective_port
    with socket.create_connection(("127.0.0.1", port), timeout=30) as slow:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # and then nothing more
        # waitress closes it after channel_timeout (1 s, checked every 1 s); with
        # waitress's defaults it would still be open when the 30 s socket timeout ends
        # (recv would raise TimeoutError and fail the test).
        assert slow.recv(1024) == b""


@pytest.mark.parametrize("config_overrides", [LIMITED])
def test_a_too_large_header_is_refused(running):
    with socket.create_connection(("127.0.0.1", running.effective_port), timeout=30) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000
                     + b"\r\n\r\n")
        answer = conn.recv(1024)
    assert answer.split(b" ")[1] == b"431"


@pytest.mark.parametrize(("key", "value", "problem"), [
    ("connection_limit", 5, "server.connection_limit: must be between 10 and 10000"),
    ("channel_timeout", 0, "server.channel_timeout: must be between 1 and 3600"),
    ("max_request_body_size", 10, "server.max_request_body_size: must be between 65536"),
    ("backlog", "many", "server.backlog: must be an integer"),
    ("trusted_proxy", "yes", "server.trusted_proxy: must be true or false"),
])
def test_limits_are_checked(key, value, problem):
    with pytest.raises(ConfigError) as err:
        parse({"server": {key: value}})
    assert problem in str(err.value)
