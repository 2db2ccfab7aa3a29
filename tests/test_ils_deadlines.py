"""Deadlines and the breaker of the ILS link (issue 26): hostile library systems on real sockets.

Each server here misbehaves in one way (HostileIls in tests/helpers_sip2.py): it trickles
its answers a byte at a time (over TLS too), answers each request whole but late, answers
the login and then nothing, accepts and never reads, or closes at once. No test measures
wall time: they assert what the station answered, how often the server was asked, and
that the station gave up before a trickled answer was whole.
"""

from __future__ import annotations

import http.client
import json
import threading

import pytest
from factories import make_order
from helpers_sip2 import (
    INSTITUTION,
    HostileIls,
    ils_config,
    self_signed_cert,
    server_tls_context,
)

from kiosk.ils.breaker import Breaker
from kiosk.ils.client import Endpoint, LinkDown, SIP2Client
from kiosk.ils.deadline import Deadline, DeadlinePassed
from kiosk.ils.link import IlsLink
from kiosk.station import DeviceState

CARD = "N000000001"
TIMEOUT_S = 0.5


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hostile(request):
    """A misbehaving ILS: a mode, or HostileIls's arguments, by indirect parametrisation."""
    param = getattr(request, "param", "trickle")
    server = HostileIls(**param) if isinstance(param, dict) else HostileIls(param)
    yield server
    server.close()


def endpoint(port: int, timeout_s: float = TIMEOUT_S) -> Endpoint:
    return Endpoint(host="127.0.0.1", port=port, user="kiosk", password="s3cret",
                    timeout_s=timeout_s)


# --- the deadline and the breaker on their own ------------------------------------------

def test_a_deadline_counts_down_on_its_clock_and_never_hands_out_zero():
    clock = FakeClock()
    d = Deadline(5.0, clock)
    clock.now += 4.5
    assert d.remaining() == pytest.approx(0.5) and not d.expired
    assert d.left() == pytest.approx(0.5)
    clock.now += 0.5
    assert d.expired and d.remaining() == 0.0
    with pytest.raises(DeadlinePassed):  # never 0, which a socket takes as "non-blocking"
        d.left()


def test_the_breaker_opens_for_a_growing_while_and_lets_one_probe_through():
    clock = FakeClock()
    breaker = Breaker(clock=clock)
    assert breaker.admit() == "go" and breaker.state == "closed"
    waits = [breaker.failed()]
    assert breaker.admit() == "refuse" and breaker.state == "open"
    clock.now += 4.9
    assert breaker.admit() == "refuse"
    clock.now += 0.1
    assert breaker.state == "half-open"
    assert breaker.admit() == "probe"
    assert breaker.admit() == "refuse"  # one probe at a time
    for _ in range(5):
        waits.append(breaker.failed())
        clock.now += waits[-1]
        assert breaker.admit() == "probe"
    assert waits == [5, 10, 20, 40, 60, 60]
    breaker.release()  # the probe never reached the ILS: the next caller probes
    assert breaker.admit() == "probe"
    breaker.succeeded()
    assert breaker.admit() == "go" and breaker.failures == 0


# --- the client: one deadline for the whole exchange ------------------------------------

def test_a_trickled_login_is_given_up_on_before_it_is_whole(hostile):
    client = SIP2Client(endpoint(hostile.port))
    with pytest.raises(LinkDown, match=f"no answer within {TIMEOUT_S:g} s"):
        client.connect()
    # bytes kept coming, but the deadline did not restart with each of them
    assert hostile.requests[0].startswith(b"93") and hostile.answers_finished == 0
    assert not client.connected


def test_a_login_trickled_over_tls_is_given_up_on_too(tmp_path):
    cert, key = self_signed_cert(tmp_path)
    server = HostileIls("trickle", tls=server_tls_context(cert, key))
    try:
        ep = Endpoint(**{**endpoint(server.port).__dict__, "tls": True,
                         "tls_ca_file": str(cert)})
        with pytest.raises(LinkDown, match="no answer within"):
            SIP2Client(ep).connect()
        assert server.requests[0].startswith(b"93") and server.answers_finished == 0
    finally:
        server.close()


@pytest.mark.parametrize(("hostile", "tls"), [("hang", False), ("hang", True),
                                               ("close", False)], indirect=["hostile"])
def test_a_server_that_hangs_or_closes_fails_the_connect_once(hostile, tls):
    ep = Endpoint(**{**endpoint(hostile.port).__dict__, "tls": tls})
    with pytest.raises(LinkDown):  # a TLS handshake never answered is bounded too
        SIP2Client(ep).connect()
    assert hostile.connections == 1


@pytest.mark.parametrize("hostile", ["silent"], indirect=True)
def test_a_silent_ils_costs_one_deadline_not_a_reconnect_and_login_more(hostile):
    device = DeviceState()
    link = IlsLink(endpoint(hostile.port), INSTITUTION, device=device)
    link.connect()
    with pytest.raises(LinkDown, match="no answer within"):
        link.patron(CARD, summary="hold")
    # before: the request timed out, then a reconnect and login waited a second timeout
    assert hostile.connections == 1
    assert [r[:2] for r in hostile.requests] == [b"93", b"63"]
    assert device.state == "disconnected" and link.breaker.state == "open"


# --- the link: the breaker answers at once ----------------------------------------------

@pytest.mark.parametrize("hostile", ["close"], indirect=True)
def test_after_a_failure_calls_answer_at_once_until_the_probe(hostile):
    clock = FakeClock()
    link = IlsLink(endpoint(hostile.port), INSTITUTION, clock=clock)
    with pytest.raises(LinkDown):
        link.patron(CARD)
    for _ in range(16):
        with pytest.raises(LinkDown, match="next try in 5 s"):
            link.patron(CARD)
    clock.now += 4.9
    assert not link.ensure()
    assert hostile.connections == 1  # nobody knocked while the breaker was open
    clock.now += 0.1
    assert not link.ensure()  # the half-open probe, which fails
    assert hostile.connections == 2 and link.breaker.retry_in() == 10


@pytest.mark.parametrize("hostile", ["close"], indirect=True)
def test_with_a_background_prober_a_scan_never_becomes_the_probe(hostile):
    clock = FakeClock()
    link = IlsLink(endpoint(hostile.port), INSTITUTION, clock=clock)
    link.background_prober = True  # as kiosk.ils.runtime sets it while the station serves
    assert not link.ensure(background=True)
    clock.now += 5
    with pytest.raises(LinkDown, match="next try in 0 s"):
        link.patron(CARD)  # half-open, but a scan does not wait out timeout_s probing
    assert hostile.connections == 1
    assert not link.ensure(background=True)
    assert hostile.connections == 2 and link.breaker.retry_in() == 10


@pytest.mark.parametrize("hostile", ["silent"], indirect=True)
def test_a_probe_that_gets_no_verdict_gives_its_turn_back(hostile):
    clock = FakeClock()
    link = IlsLink(endpoint(hostile.port), INSTITUTION, clock=clock)
    assert not link.ensure()  # logged in, then no answer: the breaker opens
    clock.now += 5
    with pytest.raises(ValueError):  # the probe's request cannot be written
        link.patron("N00|001")
    assert link.breaker.state == "half-open" and link.breaker.admit() == "probe"
    link.close()


def test_a_call_waiting_for_the_link_gives_up_within_its_own_deadline(hostile):
    link = IlsLink(endpoint(hostile.port), INSTITUTION)
    stuck = threading.Thread(target=link.ensure)
    stuck.start()
    assert hostile.asked.wait(10)  # the first exchange holds the link now, trickled
    with pytest.raises(LinkDown):  # "stayed busy", or the breaker its failure opened
        link.patron(CARD)
    stuck.join()
    assert hostile.connections == 1 and hostile.answers_finished == 0
    assert [r[:2] for r in hostile.requests] == [b"93"]


# --- the scan ----------------------------------------------------------------------------

@pytest.fixture
def ils_extra() -> dict:
    return {}


@pytest.fixture
def config_overrides(hostile, tmp_path, ils_extra):
    return {"ils": ils_config(hostile.port, tmp_path, **{
                "holds_from_ils": True, "timeout_s": TIMEOUT_S, **ils_extra}),
            "kiosk": {"rate_limit": "off"},
            "server": {"threads": 1, "max_streams": 1}}


def test_a_scan_against_a_trickling_ils_answers_from_local_data(client, session, station,
                                                               hostile):
    make_order(session, card=CARD, slot="A-02", station=station)
    body = client.post("/kiosk/scan", json={"code": CARD}).get_json()
    assert body["outcome"] == "ready" and [p["slot"] for p in body["pickups"]] == ["A-02"]
    assert station.holds.fallbacks == 1 and "no answer within" in \
        station.holds.last_fallback_reason
    assert hostile.connections == 1 and hostile.answers_finished == 0


def test_sixteen_scans_at_once_do_not_wait_in_turn(client, session, station, hostile):
    make_order(session, card=CARD, slot="A-03", station=station)
    station.ils.breaker = Breaker(clock=FakeClock())  # the open interval lasts the test
    answers: list[dict] = []

    def scan() -> None:
        answers.append(client.post("/kiosk/scan", json={"code": CARD}).get_json())

    threads = [threading.Thread(target=scan) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [[p["slot"] for p in a["pickups"]] for a in answers] == [["A-03"]] * 16
    assert station.holds.fallbacks == 16
    # one exchange tried the ILS; the rest gave up on the busy link or met the open breaker
    assert hostile.connections == 1 and hostile.answers_finished == 0
    assert station.ils.breaker.state == "open"


@pytest.mark.parametrize("hostile", [{"mode": "slow", "interval": 1.2, "blocked": True}],
                         indirect=True)
@pytest.mark.parametrize("ils_extra", [{"patron_check": True, "timeout_s": 2}])
def test_a_scans_ils_hooks_share_one_deadline(client, session, station, hostile):
    make_order(session, card=CARD, slot="A-05", station=station)
    body = client.post("/kiosk/scan", json={"code": CARD}).get_json()
    # the holds were asked (1.2 s of 2); the patron check had 0.8 s left for its 1.2 s
    assert [p["slot"] for p in body["pickups"]] == ["A-05"]
    assert "see_staff" not in body["notices"]  # before: 2 s more, and the answer came
    assert [r[:2] for r in hostile.requests] == [b"93", b"63", b"63"]
    assert station.holds.fallbacks == 0


def _get(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data,
                     headers={"Content-Type": "application/json"} if data else {})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def test_healthz_answers_while_scans_meet_a_stuck_ils(live_server, station, session, hostile):
    make_order(session, card=CARD, slot="A-04", station=station)
    port = int(live_server.rsplit(":", 1)[1])
    answers: list[dict] = []

    def scan() -> None:
        answers.append(_get(port, "POST", "/kiosk/scan", {"code": CARD})[1])

    # more scans than waitress has request threads (5): before, each held its thread
    # while the ILS trickled, and /healthz waited behind them
    threads = [threading.Thread(target=scan) for _ in range(8)]
    for t in threads:
        t.start()
    assert hostile.asked.wait(10)  # a scan's exchange is stuck in the ILS now
    status, health = _get(port, "GET", "/healthz")
    finished_then = hostile.answers_finished
    for t in threads:
        t.join()
    assert status == 200 and finished_then == 0  # answered before the ILS had said anything
    assert [[p["slot"] for p in a["pickups"]] for a in answers] == [["A-04"]] * 8
    status, health = _get(port, "GET", "/healthz")
    assert status == 200 and health["ils"]["state"] == "disconnected"
    assert "no answer within" in health["ils"]["detail"]
