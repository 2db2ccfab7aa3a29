"""The guarantees of kiosk.floodgate: login posts past their limits never reach Flask.

The gate wraps a stand-in WSGI app that counts what reaches it, with the real `limits`
engine behind it. Time is a clock the test moves (both the gate and `limits` read
`time.time`), so windows and Retry-After are exact and nothing sleeps.
"""

from __future__ import annotations

import json
import time

import pytest
from werkzeug.test import Client

from kiosk.floodgate import JSON_PATHS, LOGIN_PATHS, HashesBusy, HashSlots, LoginFloodGate

START = 1_800_000_000.0
PAGE = b"<h1>Vent litt</h1>"


class Clock:
    def __init__(self):
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    return clock


class Station:
    """What stands behind the gate: counts the requests that got through."""

    def __init__(self):
        self.reached = 0

    def __call__(self, environ, start_response):
        self.reached += 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"passed"]


def gate(per_address: str = "3/minute", total: str = "5/minute"):
    station = Station()
    wrapped = LoginFloodGate(station, per_address, total, page=lambda: PAGE,
                             headers={"X-Frame-Options": "DENY"})
    return Client(wrapped), station


def post(client: Client, path: str = "/staff/login", address: str = "10.0.0.7"):
    return client.post(path, environ_base={"REMOTE_ADDR": address})


def test_posts_past_the_per_address_limit_are_refused_before_the_station(clock):
    client, station = gate()
    assert [post(client).status_code for _ in range(3)] == [200, 200, 200]
    refused = post(client)
    assert refused.status_code == 429 and station.reached == 3
    assert refused.data == PAGE
    assert refused.headers["Content-Type"] == "text/html; charset=utf-8"
    assert refused.headers["Content-Length"] == str(len(PAGE))
    assert refused.headers["Retry-After"] == "60"
    assert refused.headers["Cache-Control"] == "no-store"
    assert refused.headers["X-Frame-Options"] == "DENY"  # the station's headers too
    assert post(client, address="10.0.0.8").status_code == 200  # another address


@pytest.mark.parametrize("path", sorted(JSON_PATHS))
def test_the_json_login_endpoints_are_refused_in_json(clock, path):
    client, _ = gate(per_address="1/minute")
    assert post(client, path).status_code == 200
    refused = post(client, path)
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/json"
    assert json.loads(refused.data) == {
        "error": "too many requests", "detail": "too many login attempts; wait and try again"}
    assert refused.headers["Content-Length"] == str(len(refused.data))


def test_every_login_path_shares_one_count_per_address(clock):
    client, station = gate(per_address=f"{len(LOGIN_PATHS)}/minute", total="100/minute")
    for path in sorted(LOGIN_PATHS):
        assert post(client, path).status_code == 200
    for path in sorted(LOGIN_PATHS):
        assert post(client, path).status_code == 429, path
    assert station.reached == len(LOGIN_PATHS)


def test_other_paths_and_other_methods_are_never_counted(clock):
    client, station = gate(per_address="1/minute", total="1/minute")
    for _ in range(5):
        assert client.get("/staff/login", environ_base={"REMOTE_ADDR": "10.0.0.7"}) \
            .status_code == 200
        assert post(client, "/kiosk/scan").status_code == 200
        assert post(client, "/staff/login/").status_code == 200
        assert client.put("/staff/login").status_code == 200
    assert post(client).status_code == 200  # the first counted one
    assert post(client).status_code == 429
    assert station.reached == 21


def test_the_total_limit_counts_every_address(clock):
    client, station = gate(per_address="3/minute", total="5/minute")
    for n in range(5):
        assert post(client, address=f"10.1.0.{n}").status_code == 200
    refused = post(client, address="10.2.0.1")
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert station.reached == 5


def test_an_address_refused_on_its_own_limit_does_not_use_up_the_total(clock):
    client, _ = gate(per_address="3/minute", total="5/minute")
    codes = [post(client, address="10.0.0.7").status_code for _ in range(10)]
    assert codes == [200] * 3 + [429] * 7
    assert [post(client, address=f"10.1.0.{n}").status_code for n in range(3)] \
        == [200, 200, 429]


def test_retry_after_counts_down_with_the_window_in_whole_seconds_and_at_least_one(clock):
    client, _ = gate(per_address="1/minute")
    assert post(client).status_code == 200
    clock.now = START + 30.2
    assert post(client).headers["Retry-After"] == "30"  # 29.8 s left: rounded up
    clock.now = START + 59.5
    assert post(client).headers["Retry-After"] == "1"
    clock.now = START + 59.99
    assert post(client).headers["Retry-After"] == "1"
    clock.now = START + 60  # the window is over: free again
    assert post(client).status_code == 200


def test_every_limit_of_a_list_is_kept(clock):
    client, _ = gate(per_address="2/minute;3/hour", total="100/minute")
    assert [post(client).status_code for _ in range(3)] == [200, 200, 429]
    clock.now = START + 61
    assert post(client).status_code == 200  # the hour's third
    refused = post(client)  # within the minute's two, past the hour's three
    assert refused.status_code == 429 and refused.headers["Retry-After"] == str(3600 - 61)


def test_retry_after_is_the_longest_wait_of_the_limits_used_up(clock):
    client, _ = gate(per_address="3/minute;2/hour", total="100/minute")
    assert [post(client).status_code for _ in range(3)] == [200, 200, 429]  # the hour's two
    clock.now = START + 10
    refused = post(client)  # past the minute's three as well: the hour still decides
    assert refused.status_code == 429 and refused.headers["Retry-After"] == str(3600 - 10)


def test_a_request_without_an_address_is_counted_as_one_unknown_client(clock):
    client, _ = gate(per_address="1/minute")
    assert client.post("/staff/login", environ_base={"REMOTE_ADDR": ""}).status_code == 200
    assert client.post("/staff/login", environ_base={"REMOTE_ADDR": ""}).status_code == 429


def test_a_hash_past_the_slots_is_refused_at_once_not_queued():
    slots = HashSlots(2)
    with slots.hold(), slots.hold():
        # the same thread asking again would wait forever if it were queued
        with pytest.raises(HashesBusy), slots.hold():
            pytest.fail("a third hash ran while two held the slots")
    with slots.hold(), slots.hold():  # both given back
        pass


def test_a_slot_is_given_back_when_its_login_fails_with_an_error():
    slots = HashSlots(1)
    for _ in range(3):
        with pytest.raises(ValueError), slots.hold():
            raise ValueError("the check itself failed")
    with slots.hold():
        with pytest.raises(HashesBusy), slots.hold():
            pass
