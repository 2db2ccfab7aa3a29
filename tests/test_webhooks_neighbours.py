"""Issue 26: a webhook receiver that trickles its answer holds up nobody but itself.

Real receivers on loopback: a healthy one, and one that answers a byte at a time for as
long as it is listened to. Each attempt has one deadline; each receiver its own thread.
"""

from __future__ import annotations

import re
import threading

import pytest
from factories import make_order
from sqlalchemy import select
from test_webhooks import Clock
from webhook_receiver import SECRET, Receiver, Trickler, secret_file

from kiosk.appsetup import session_scope
from kiosk.extensions import db
from kiosk.webhooks import runtime
from kiosk.webhooks.delivery import Deliverer
from kiosk.webhooks.outbox import Endpoint, WebhookDelivery


@pytest.fixture
def trickler():
    with Trickler() as t:
        yield t


@pytest.fixture
def healthy():
    with Receiver() as r:
        yield r


@pytest.fixture
def config_overrides(tmp_path, trickler, healthy):
    secret = secret_file(tmp_path)
    # The trickler first: its events get the lower ids, so a single sender meets them first.
    return {"webhooks": [{"url": trickler.url, "secret_file": secret, "timeout_s": 60},
                         {"url": healthy.url, "secret_file": secret, "timeout_s": 5}]}


def rows(app, url: str) -> list[WebhookDelivery]:
    with app.app_context():
        found = db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint == url)
                                   .order_by(WebhookDelivery.id)).all()
        db.session.expunge_all()
        return found


def test_a_trickling_answer_is_cut_at_the_attempts_deadline(app, session, trickler):
    """The deadline covers the whole answer: a byte every 50 ms does not restart it."""
    make_order(session)
    hooks = Deliverer(session_scope(app), [Endpoint(
        url=trickler.url, secret=SECRET, events=frozenset({"order.received"}), timeout_s=0.5)],
        clock=Clock())
    attempt = threading.Thread(target=hooks.deliver_one, daemon=True)
    attempt.start()
    attempt.join(30)  # a liveness bound: with a per-read timeout it trickles on for ever
    assert not attempt.is_alive(), "the attempt outlived its deadline"
    [row] = rows(app, trickler.url)
    assert (row.state, row.attempts, row.last_status) == ("pending", 1, None)
    assert row.last_error.startswith("TimeoutError: no whole answer within 0.5 s")
    assert trickler.requests == 1


def test_a_trickling_receiver_never_delays_a_healthy_ones_events(app, session, trickler,
                                                               healthy):
    app.config["KIOSK_WEBHOOK_POLL_S"] = 0.05
    for n in range(3):
        make_order(session, card=f"N40000002{n}")
    stop = runtime.start(app)
    try:
        assert healthy.wait_for(3), "the healthy receiver waited for the trickling one"
        assert trickler.requests == 1  # its first event is still being trickled
        assert [e["data"]["order_id"] for e in healthy.events()] == sorted(
            e["data"]["order_id"] for e in healthy.events())
        assert len(set(healthy.ids())) == 3
        held = rows(app, trickler.url)
        assert [(r.state, r.attempts) for r in held] == [("pending", 0)] * 3
    finally:
        trickler.stop.set()
        stop()
    assert [(r.state, r.attempts) for r in rows(app, healthy.url)] == [("delivered", 1)] * 3


def test_metrics_name_receivers_by_number_never_by_url(app, client, session, trickler,
                                                       healthy):
    """A receiver's url may carry a secret; the backlog is labelled by its place in the
    configuration (issue 26)."""
    make_order(session)
    text = client.get("/metrics").text
    assert trickler.url not in text and healthy.url not in text and "://" not in text
    assert 'kiosk_webhook_backlog{webhook="1"} 1.0' in text
    assert 'kiosk_webhook_backlog{webhook="2"} 1.0' in text


def test_an_answer_read_to_the_end_of_the_connection_counts():
    """A receiver answering HTTP/1.0 with a body and no length: the answer is read to the
    close, within the deadline, on the socket the connection handed over."""
    import socket

    from kiosk.webhooks.delivery import Answer, http_post

    with socket.create_server(("127.0.0.1", 0)) as server:
        def answer() -> None:
            conn, _ = server.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                head, body = data.split(b"\r\n\r\n", 1)
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                while len(body) < length:  # closing with the body unread would send a reset
                    body += conn.recv(4096)
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nthanks")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        port = server.getsockname()[1]
        assert http_post(f"http://127.0.0.1:{port}/h", b"{}", {}, 5) == Answer(200)
        thread.join(30)


def test_https_receivers_are_verified_and_answered_within_the_deadline(tmp_path, monkeypatch):
    """The deadline connection wraps TLS itself: the certificate and host name are checked
    against the system's trust store (here a throw-away CA put there by SSL_CERT_FILE)."""
    import http.server
    import ssl

    from nginx_proxy import make_certificates

    from kiosk.webhooks.delivery import http_post

    certs = make_certificates(tmp_path / "ca")

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.cert, certs.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        untrusted = http_post(url, b"{}", {}, 5)
        assert untrusted.status is None and "CERTIFICATE_VERIFY_FAILED" in untrusted.error
        monkeypatch.setenv("SSL_CERT_FILE", str(certs.ca))
        assert http_post(url, b"{}", {}, 5).status == 200
    finally:
        server.shutdown()
        server.server_close()
