"""The SIP2 client and link against pysip2's server: login, checksums, drops, TLS, timeouts."""

from __future__ import annotations

import socket
import threading

import pytest
from helpers_sip2 import (
    INSTITUTION,
    FakeLibrary,
    FaultProxy,
    Patron,
    SipServer,
    self_signed_cert,
    server_tls_context,
)

from kiosk.ils.client import Endpoint, LinkDown, LoginRefused, SIP2Client
from kiosk.ils.link import IlsLink
from kiosk.station import DeviceState


def endpoint(port: int, **kw) -> Endpoint:
    base = {"host": "127.0.0.1", "port": port, "user": "kiosk", "password": "s3cret",
            "timeout_s": 2.0}
    return Endpoint(**{**base, **kw})


@pytest.fixture
def ils():
    """A running library system: yields (library, server)."""
    lib = FakeLibrary()
    lib.patrons["N000000001"] = Patron(holds=["0301"])
    server = SipServer(lib).start()
    yield lib, server
    server.stop()


@pytest.fixture
def proxy(ils):
    p = FaultProxy(ils[1].port)
    yield p
    p.close()


def make_link(port: int, device=None, **kw) -> IlsLink:
    return IlsLink(endpoint(port, **kw), INSTITUTION, "term", device=device)


def test_login_patron_information_and_checkout(ils):
    lib, server = ils
    device = DeviceState()
    link = make_link(server.port, device)
    info = link.patron("N000000001", summary="hold")
    assert info.valid and not info.blocked and info.hold_items == ["0301"]
    assert info.name == "Åse Ødegård"
    result = link.checkout("N000000001", "0300000011")
    assert result.ok and result.due_date == "2031-01-15"
    assert lib.loans == {"0300000011": "N000000001"} and lib.logins == ["kiosk"]
    assert device.state == "connected" and device.last_activity
    link.close()


def test_wrong_password_is_refused_and_shown_as_error(ils):
    lib, server = ils
    device = DeviceState()
    link = make_link(server.port, device, password="wrong")
    with pytest.raises(LoginRefused):
        link.connect()
    assert device.state == "error" and "refused" in device.detail
    assert "wrong" not in device.detail and "wrong" not in repr(link.endpoint)
    assert not link.ensure()  # waits before trying again: no second login at once
    assert lib.logins == ["kiosk"]


def test_station_garbled_frame_is_resent_once_after_96(ils):
    lib, server = ils
    garbled = []

    def garble_first_checkout(frame: bytes) -> bytes:
        if frame.startswith(b"11") and not garbled:
            garbled.append(frame)
            return frame[:-2] + (b"0" if frame[-2:-1] != b"0" else b"1") + b"\r"
        return frame

    client = SIP2Client(endpoint(server.port), wrap_frame=garble_first_checkout)
    client.connect()
    link = IlsLink(client.endpoint, INSTITUTION, "term", client_factory=lambda _e: client)
    result = link.checkout("N000000001", "0300000012")
    assert garbled and result.ok
    assert lib.checkouts["0300000012"] == 1  # the garbled frame was not acted upon
    client.close()


def test_ils_garbled_answer_is_asked_for_again_with_97(ils, proxy):
    lib, _ = ils
    link = make_link(proxy.port)
    link.connect()
    proxy.garble_answers = 1
    result = link.checkout("N000000001", "0300000013")
    assert result.ok and lib.checkouts["0300000013"] == 1
    assert any(f.startswith(b"97") for f in proxy.requests)
    link.close()


def test_answers_that_stay_garbled_mean_link_down(ils, proxy):
    link = make_link(proxy.port)
    link.connect()
    proxy.garble_answers = 5
    with pytest.raises(LinkDown, match="bad checksums"):
        link.status()
    assert not link.up


def test_link_dropped_mid_session_reconnects_for_the_next_request(ils, proxy):
    lib, _ = ils
    device = DeviceState()
    link = make_link(proxy.port, device)
    assert link.patron("N000000001").valid
    proxy.drop_all()
    assert link.patron("N000000001").valid  # stale connection noticed, new one made
    assert lib.logins == ["kiosk", "kiosk"] and device.state == "connected"
    link.close()


def test_checkout_is_not_resent_by_the_link_when_the_answer_is_lost(ils, proxy):
    lib, _ = ils
    link = make_link(proxy.port)
    link.connect()
    proxy.swallow_answer_to = "11"
    with pytest.raises(LinkDown):
        link.checkout("N000000001", "0300000014")
    assert lib.checkouts["0300000014"] == 1  # the queue decides what happens next


def test_ils_down_then_back(ils):
    lib, server = ils
    device = DeviceState()
    link = make_link(server.port, device)
    assert link.ensure()
    server.stop()
    with pytest.raises(LinkDown):
        link.status()
    assert device.state == "disconnected"
    link._retry_at = 0  # skip the back-off wait
    assert not link.ensure()


def test_no_answer_times_out():
    silent = socket.create_server(("127.0.0.1", 0))
    accepted = []
    t = threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True)
    t.start()
    client = SIP2Client(endpoint(silent.getsockname()[1], timeout_s=0.3))
    with pytest.raises(LinkDown, match="no answer within 0.3 s"):
        client.connect()
    t.join(timeout=2)
    for conn in accepted:
        conn.close()
    silent.close()


def test_requests_from_many_threads_get_their_own_answers(ils):
    lib, server = ils
    for n in range(2, 8):
        lib.patrons[f"N00000000{n}"] = Patron(blocked=n % 2 == 0)
    link = make_link(server.port)
    answers: dict[str, bool] = {}

    def ask(card: str) -> None:
        for _ in range(5):
            answers[card] = link.patron(card).blocked

    threads = [threading.Thread(target=ask, args=(f"N00000000{n}",)) for n in range(2, 8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert answers == {f"N00000000{n}": n % 2 == 0 for n in range(2, 8)}
    link.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


def test_tls_to_a_trusted_ils(ils, certificate):
    lib, server = ils
    cert, key = certificate
    tls_proxy = FaultProxy(server.port, tls=server_tls_context(cert, key))
    try:
        device = DeviceState()
        link = make_link(tls_proxy.port, device, tls=True, tls_ca_file=str(cert))
        assert link.patron("N000000001").valid
        assert device.detail.endswith("(TLS)")
        link.close()
    finally:
        tls_proxy.close()


def test_tls_never_falls_back_to_plain_text(ils, certificate):
    lib, server = ils
    cert, key = certificate
    link = make_link(server.port, tls=True, tls_ca_file=str(cert))  # server speaks plain
    with pytest.raises(LinkDown, match="TLS"):
        link.connect()
    assert lib.logins == []  # no password went out in the clear


def test_tls_with_an_untrusted_certificate_is_refused(ils, certificate):
    lib, server = ils
    cert, key = certificate
    tls_proxy = FaultProxy(server.port, tls=server_tls_context(cert, key))
    try:
        link = make_link(tls_proxy.port, tls=True)  # system CAs only
        with pytest.raises(LinkDown, match="TLS"):
            link.connect()
        assert lib.logins == []
    finally:
        tls_proxy.close()
