"""The patron endpoints: scan answers, privacy of the answer, bad input, events."""

from __future__ import annotations

import json

import pytest
from factories import make_order


def scan(client, code):
    return client.post("/kiosk/scan", json={"code": code})


def test_ready_order_shows_slot_code_and_deadline(client, session, station):
    order = make_order(session, card="N123456789", items=3, slot="B-02", station=station)
    body = scan(client, "n123456789\r\n").get_json()
    assert body["outcome"] == "ready"
    [pickup] = body["pickups"]
    assert pickup["slot"] == "B-02" and pickup["items"] == 3
    assert pickup["pickup_code"] == order.pickup_code
    assert pickup["deadline"] == order.deadline.isoformat()


def test_titles_and_card_stay_off_the_answer_by_default(client, session, station):
    make_order(session, card="N123456789", slot="A-01", station=station)
    raw = scan(client, "N123456789").get_data(as_text=True)
    assert "Bok" not in raw and "N123456789" not in raw


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"show_titles": True}}])
def test_titles_shown_when_configured(client, session, station, config_overrides):
    make_order(session, card="N123456789", slot="A-01", station=station)
    assert scan(client, "N123456789").get_json()["pickups"][0]["titles"]


def test_unknown_card_and_nothing_ready_look_the_same(client, session, station):
    make_order(session, card="N111111111", status="cancelled")
    unknown = scan(client, "N999999999").get_json()
    cancelled = scan(client, "N111111111").get_json()
    for body in (unknown, cancelled):
        body.pop("event_id"), body.pop("at")
    assert unknown == cancelled
    assert unknown["outcome"] == "nothing"


def test_order_being_packed_says_not_ready_yet(client, session):
    make_order(session, card="N222222222", status="packing")
    body = scan(client, "N222222222").get_json()
    assert body["outcome"] == "waiting" and body["waiting"] == 1 and body["pickups"] == []


def test_other_branch_orders_are_not_shown(client, session, station):
    make_order(session, card="N333333333", branch="other", status="packing")
    assert scan(client, "N333333333").get_json()["outcome"] == "nothing"


@pytest.mark.parametrize("code", ["hello", "N12345678", "N1234567890", "\x00N123456789\x07x",
                                  "N" + "1" * 200, "'; DROP TABLE orders; --"])
def test_not_a_card_is_not_recognised(client, code):
    assert scan(client, code).get_json()["outcome"] == "not_recognised"


@pytest.mark.parametrize("body,ctype,status", [
    ("{not json", "application/json", 400),
    ('{"code": 5}', "application/json", 400),
    ('["N123456789"]', "application/json", 400),
    ('{"code": "N123456789"}', "text/plain", 415),
    (json.dumps({"code": "N" * 10_000}), "application/json", 400),
    ("x" * (9 * 1024 * 1024), "application/json", 413),
])
def test_bad_requests_get_clear_4xx_json(client, body, ctype, status):
    response = client.post("/kiosk/scan", data=body, content_type=ctype)
    assert response.status_code == status
    assert response.get_json()["error"]


def test_wrong_method_is_405_json(client):
    response = client.get("/kiosk/scan")
    assert response.status_code == 405 and response.get_json()["error"]


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"rate_limit": "3/minute"}}])
def test_scans_are_rate_limited_per_address(client, config_overrides):
    codes = [scan(client, "N123456789").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    other = client.post("/kiosk/scan", json={"code": "N123456789"},
                        environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 200


def test_scan_is_published_as_event(station, client):
    q = station.bus.subscribe()
    body = scan(client, "N123456789").get_json()
    event_id, kind, data = q.get(timeout=2)
    assert kind == "scan" and data["event_id"] == body["event_id"] == event_id
    station.bus.unsubscribe(q)


def test_screen_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Skann" in response.get_data(as_text=True)


# --- staff mode by staff card + PIN ([kiosk] staff_pin) ---------------------------------

STAFF_PIN = {"kiosk": {"staff_pin": True}, "staff": {"lockout_attempts": 3}}


@pytest.fixture
def staff_card(app):
    """A staff account with card S0001 and PIN 4711; no slow-down on wrong PINs."""
    from staff_helpers import make_user

    make_user(app, card="S0001", pin="4711")
    return "S0001"


def without_moment(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("event_id", "at")}


@pytest.mark.parametrize("config_overrides", [STAFF_PIN])
def test_staff_card_asks_for_the_pin_and_keeps_the_card_off_the_answer(client, station,
                                                                       staff_card):
    q = station.bus.subscribe()
    response = scan(client, " s0001\r\n")  # as a scanner may send it: case, framing
    body = response.get_json()
    assert body["outcome"] == "staff" and body["pickups"] == [] and body["waiting"] == 0
    event_id, _kind, data = q.get(timeout=2)
    station.bus.unsubscribe(q)
    assert event_id == body["event_id"] and data["outcome"] == "staff"
    assert "S0001" not in response.get_data(as_text=True) and "S0001" not in json.dumps(data)
    assert station.recent(body["event_id"])[0] == "S0001"  # kept on the server for the PIN


@pytest.mark.parametrize("config_overrides", [STAFF_PIN])
def test_patron_answers_do_not_change_with_staff_mode_on(client, session, station, staff_card):
    make_order(session, card="N111111111", status="cancelled")
    unknown, cancelled = scan(client, "N999999999").get_json(), scan(client, "N111111111")
    assert without_moment(unknown) == without_moment(cancelled.get_json())
    assert unknown["outcome"] == "nothing"
    assert scan(client, "S0002").get_json()["outcome"] == "not_recognised"  # no such staff card


@pytest.mark.parametrize("config_overrides", [STAFF_PIN])
def test_a_staff_card_in_the_patron_card_format_is_a_staff_card(app, client, session):
    from staff_helpers import make_user

    make_user(app, "ola", card="N555555555", pin="1234")
    make_order(session, card="N555555555", status="packing")
    assert scan(client, "N555555555").get_json()["outcome"] == "staff"


def test_staff_card_is_just_not_a_card_when_staff_mode_is_off(client, staff_card):
    assert scan(client, staff_card).get_json()["outcome"] == "not_recognised"
    response = client.post("/kiosk/staff-login", json={"event_id": 1, "pin": "4711"})
    assert response.status_code == 404


@pytest.mark.parametrize("config_overrides", [STAFF_PIN])
def test_staff_pin_switches_the_screen_into_staff_mode(client, staff_card):
    event_id = scan(client, staff_card).get_json()["event_id"]
    assert client.get("/staff/packing").status_code == 302  # not logged in yet
    wrong = client.post("/kiosk/staff-login", json={"event_id": event_id, "pin": "0000"})
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "wrong card or PIN"
    right = client.post("/kiosk/staff-login", json={"event_id": event_id, "pin": "4711"})
    assert right.status_code == 200 and right.get_json() == {"ok": True, "redirect": "/staff/"}
    assert client.get("/staff/packing").status_code == 200


@pytest.mark.parametrize("config_overrides", [STAFF_PIN])
def test_staff_login_refuses_other_scans_bad_input_and_locks(client, session, station,
                                                             staff_card):
    make_order(session, card="N123456789", slot="A-01", station=station)
    patron = scan(client, "N123456789").get_json()["event_id"]
    for pin in ("4711", "1234"):  # a patron's scan on screen never logs anyone in
        response = client.post("/kiosk/staff-login", json={"event_id": patron, "pin": pin})
        assert response.status_code == 404
    assert client.post("/kiosk/staff-login", json={"event_id": "99999", "pin": "4711"}) \
        .status_code == 404
    event_id = scan(client, staff_card).get_json()["event_id"]
    for bad in ({}, {"event_id": event_id}, {"event_id": 1, "pin": "4711"},
                {"event_id": True, "pin": "4711"}, {"event_id": event_id, "pin": 4711},
                {"event_id": event_id, "pin": "1" * 100}, [event_id]):
        assert client.post("/kiosk/staff-login", json=bad).status_code == 400, bad
    assert client.post("/kiosk/staff-login", data="x").status_code == 415
    for _ in range(3):
        client.post("/kiosk/staff-login", json={"event_id": event_id, "pin": "0000"})
    locked = client.post("/kiosk/staff-login", json={"event_id": event_id, "pin": "4711"})
    assert locked.status_code == 429
    assert client.get("/staff/packing").status_code == 302


@pytest.mark.parametrize("config_overrides", [{"station": {"language": "nn"}}])
def test_language_reset_brings_back_the_station_language(client, config_overrides):
    assert '<html lang="en"' in client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en"' in client.get("/").get_data(as_text=True)  # kept in the session
    response = client.post("/kiosk/language-reset")
    assert response.status_code == 204
    assert '<html lang="nn"' in client.get("/").get_data(as_text=True)
    assert client.post("/kiosk/language-reset").status_code == 204  # nothing chosen: fine too
    assert client.get("/kiosk/language-reset").status_code == 405


def test_deeply_nested_json_is_a_400_not_a_500(client):
    body = '{"code": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = client.post("/kiosk/scan", data=body, content_type="application/json")
    assert response.status_code == 400 and response.get_json()["error"]
