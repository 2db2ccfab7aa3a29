"""POST /kiosk/collect and /kiosk/pin, with and without the library system (pysip2)."""

from __future__ import annotations

import pytest
from factories import make_order
from helpers_sip2 import PATRON_CARD, Patron, ils_config

from kiosk.domain import audit
from kiosk.models import IlsJob, Order

CARD = PATRON_CARD


@pytest.fixture
def ils_extra() -> dict:
    return {}


@pytest.fixture
def config_overrides(ils, tmp_path, ils_extra):
    return {"ils": ils_config(ils[1].port, tmp_path, **ils_extra)}


def scan(client, card=CARD):
    return client.post("/kiosk/scan", json={"code": card}).get_json()


def collect(client, event_id, order_id):
    return client.post("/kiosk/collect", json={"event_id": event_id, "order_id": order_id})


# --- without a library system -----------------------------------------------------------

NO_ILS = pytest.mark.parametrize("config_overrides", [{}])


@NO_ILS
def test_collect_marks_the_order_collected(client, session, station, config_overrides):
    order = make_order(session, card=CARD, slot="A-01", station=station)
    shown = scan(client)
    response = collect(client, shown["event_id"], order.id)
    assert response.status_code == 200
    body = response.get_json()
    assert body["collected"] and body["status"] == "collected" and body["ils"] == "none"
    session.expire_all()
    assert session.get(Order, order.id).status == "collected"
    assert collect(client, shown["event_id"], order.id).status_code == 409


@NO_ILS
def test_only_an_order_on_this_scans_screen_can_be_collected(client, session, station,
                                                             config_overrides):
    mine = make_order(session, card=CARD, slot="A-01", station=station)
    other = make_order(session, card="N000000002", slot="A-02", station=station)
    shown = scan(client)
    assert collect(client, shown["event_id"], other.id).status_code == 404
    assert collect(client, shown["event_id"] + "x", mine.id).status_code == 404
    nothing = scan(client, "N999999999")
    assert collect(client, nothing["event_id"], mine.id).status_code == 404
    session.expire_all()
    assert session.get(Order, other.id).status == "ready"


@NO_ILS
@pytest.mark.parametrize("payload", [None, [], {"event_id": 1, "order_id": 1},
                                     {"event_id": "e1"}, {"event_id": True, "order_id": 1},
                                     {"event_id": "", "order_id": 1},
                                     {"event_id": "x" * 65, "order_id": 1},
                                     {"event_id": "e1", "order_id": "1"}])
def test_bad_requests_get_a_clear_4xx(client, payload, config_overrides):
    if payload is None:
        response = client.post("/kiosk/collect", data="x")
        assert response.status_code == 415
    else:
        response = client.post("/kiosk/collect", json=payload)
        assert response.status_code == 400
    assert response.get_json()["error"]


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"self_collect": False}}])
def test_self_collect_off_is_refused(client, session, station, config_overrides):
    order = make_order(session, card=CARD, slot="A-01", station=station)
    assert collect(client, scan(client)["event_id"], order.id).status_code == 403


# --- with the library system ------------------------------------------------------------

def test_every_item_lent_then_collected(client, session, station, ils):
    lib, _ = ils
    order = make_order(session, card=CARD, items=2, slot="A-01", station=station)
    body = collect(client, scan(client)["event_id"], order.id).get_json()
    assert body["collected"] and body["ils"] == "online"
    assert [(i["state"], i["due_date"]) for i in body["items"]] == [("lent", "2031-01-15")] * 2
    assert sorted(lib.loans) == sorted(i.barcode for i in order.items)
    session.expire_all()
    assert all(i.lent_at and i.due_date == "2031-01-15" for i in session.get(Order, order.id).items)
    health = client.get("/healthz").get_json()
    assert health["ils"]["state"] == "connected"


def test_one_item_of_three_refused(client, session, station, ils):
    lib, _ = ils
    order = make_order(session, card=CARD, items=3, slot="A-01", station=station)
    refused = order.items[1].barcode
    lib.refuse[refused] = "Eksemplaret er reservert for en annen låner"
    event_id = scan(client)["event_id"]
    body = collect(client, event_id, order.id).get_json()
    assert not body["collected"] and body["status"] == "ready" and body["notices"] == ["see_staff"]
    states = {i["barcode"]: i["state"] for i in body["items"]}
    assert states == {order.items[0].barcode: "lent", refused: "refused",
                      order.items[2].barcode: "lent"}
    assert body["refused"] == [{"barcode": refused, "state": "refused", "due_date": None,
                                "message": "Eksemplaret er reservert for en annen låner"}]
    assert refused not in lib.loans and len(lib.loans) == 2
    session.expire_all()
    again = session.get(Order, order.id)
    assert again.slot_label == "A-01" and "partly_lent" in [a.action for a in again.audit]
    # staff sort it out in the ILS; the patron tries again: only the refused item is sent
    del lib.refuse[refused]
    body = collect(client, event_id, order.id).get_json()
    assert body["collected"] and len(lib.loans) == 3
    assert lib.checkouts[order.items[0].barcode] == 1 and lib.checkouts[refused] == 2


def test_ils_down_pickup_still_works_and_checkouts_are_queued(client, session, station, ils):
    lib, server = ils
    order = make_order(session, card=CARD, items=2, slot="A-01", station=station)
    server.stop()
    body = collect(client, scan(client)["event_id"], order.id).get_json()
    assert body["collected"] and body["ils"] == "offline"
    assert [i["state"] for i in body["items"]] == ["queued", "queued"]
    jobs = session.query(IlsJob).order_by(IlsJob.id).all()
    assert [(j.state, j.attempts, j.card) for j in jobs] == [("queued", 0, CARD)] * 2
    assert client.get("/healthz").get_json()["ils"]["state"] == "disconnected"


@pytest.mark.parametrize("ils_extra", [{"patron_check": True}])
def test_blocked_patron_is_told_to_see_staff(client, session, station, ils, ils_extra):
    lib, server = ils
    lib.patrons["N000000002"] = Patron(blocked=True)
    make_order(session, card="N000000002", slot="A-01", station=station)
    blocked = scan(client, "N000000002")
    assert blocked["notices"] == ["see_staff"] and blocked["pickups"]
    assert scan(client, CARD)["notices"] == []
    assert scan(client, "N000000009")["notices"] == ["see_staff"]  # unknown to the ILS
    server.stop()
    assert scan(client, "N000000002")["notices"] == []  # no ILS: nobody is stopped


PIN = pytest.mark.parametrize("ils_extra", [{"require_pin": True}])


@PIN
def test_pin_before_anything_is_shown(client, session, station, ils, ils_extra):
    order = make_order(session, card=CARD, slot="A-02", station=station)
    first = scan(client)
    assert first["outcome"] == "pin_required" and first["pickups"] == []
    assert first["notices"] == ["pin_required"]
    assert collect(client, first["event_id"], order.id).status_code == 404
    wrong = client.post("/kiosk/pin", json={"event_id": first["event_id"], "pin": "9999"})
    assert wrong.status_code == 403 and wrong.get_json()["detail"]["tries_left"] == 2
    right = client.post("/kiosk/pin", json={"event_id": first["event_id"], "pin": "1234"})
    assert right.status_code == 200
    shown = right.get_json()
    assert shown["outcome"] == "ready" and shown["pickups"][0]["slot"] == "A-02"
    assert collect(client, shown["event_id"], order.id).get_json()["collected"]


@PIN
def test_wrong_pins_are_limited(client, session, station, ils, ils_extra):
    lib, _ = ils
    event_id = scan(client)["event_id"]
    codes = [client.post("/kiosk/pin", json={"event_id": event_id, "pin": "0000"}).status_code
             for _ in range(4)]
    assert codes == [403, 403, 403, 429]
    asked = len(lib.patron_requests)
    locked = client.post("/kiosk/pin", json={"event_id": event_id, "pin": "1234"})
    assert locked.status_code == 429 and len(lib.patron_requests) == asked
    assert scan(client)["notices"] == ["pin_locked"]


@PIN
@pytest.mark.parametrize("payload", [{"event_id": 1}, {"event_id": 1, "pin": "12a4"},
                                     {"event_id": 1, "pin": 1234}, {"pin": "1234"}])
def test_bad_pin_requests(client, ils_extra, payload):
    assert client.post("/kiosk/pin", json=payload).status_code == 400


@PIN
@pytest.mark.parametrize("pin", ["١٢٣٤", "12²", "", "1" * 33, "12 4"])
def test_a_pin_of_anything_but_ascii_digits_never_reaches_the_library_system(
        client, ils, ils_extra, pin):
    lib, _ = ils
    event_id = scan(client)["event_id"]
    asked = len(lib.patron_requests)
    answer = client.post("/kiosk/pin", json={"event_id": event_id, "pin": pin})
    assert answer.status_code == 400 and len(lib.patron_requests) == asked


@NO_ILS
def test_no_pin_endpoint_without_require_pin(client, config_overrides):
    assert client.post("/kiosk/pin", json={"event_id": 1, "pin": "1"}).status_code == 404


# --- a staff scan at the desk lends the items as the kiosk does ---------------------------


def test_staff_scan_lends_the_items_then_collects(app, client, session, station, ils):
    from staff_helpers import login

    lib, _server = ils
    order = make_order(session, card=CARD, items=2, slot="A-02", station=station)
    login(client, app)
    r = client.post("/staff/collect", data={"code": order.pickup_code},
                    headers={"X-Requested-With": "fetch"})
    assert r.get_json()["ok"], r.get_json()
    assert [lib.checkouts[i.barcode] for i in order.items] == [1, 1]
    session.refresh(order)
    assert order.status == "collected"
    assert audit.render(order.audit[-1].detail) == "Staff scan; 2 items lent"


def test_staff_scan_with_an_item_refused_keeps_the_order_on_its_slot(app, client, session,
                                                                    station, ils):
    from staff_helpers import login

    lib, _server = ils
    order = make_order(session, card=CARD, items=2, slot="A-03", station=station)
    lib.refuse[order.items[0].barcode] = "Reservert for en annen låner"
    login(client, app)
    r = client.post("/staff/collect", data={"code": order.pickup_code},
                    headers={"X-Requested-With": "fetch"})
    body = r.get_json()
    assert not body["ok"] and order.items[0].barcode in body["message"]
    session.refresh(order)
    assert order.status == "ready" and order.slot_label == "A-03"


# --- issue 23: a PIN per patron session; a collect all or nothing to the patron ---------

@PIN
def test_a_right_pin_opens_one_session_and_a_new_scan_asks_again(client, session, station,
                                                                  ils, ils_extra):
    order = make_order(session, card=CARD, slot="A-02", station=station)
    first = scan(client)
    right = client.post("/kiosk/pin", json={"event_id": first["event_id"], "pin": "1234"})
    assert right.get_json()["outcome"] == "ready"
    # Someone else scans the same card number a moment later: a new session, a new PIN.
    again = scan(client)
    assert again["outcome"] == "pin_required" and again["pickups"] == []
    assert collect(client, again["event_id"], order.id).status_code == 404
    # The patron who gave the PIN can still collect from the screen it opened.
    assert collect(client, right.get_json()["event_id"], order.id).get_json()["collected"]


def _legacy_order(session, station, barcodes: list[str]) -> Order:
    """An order stored before identifiers were checked (as an old import left it)."""
    from kiosk.models import Item

    order = make_order(session, card=CARD, items=1, slot="A-03", station=station)
    order.items.extend(Item(barcode=b) for b in barcodes)
    session.commit()
    return order


@pytest.mark.parametrize(("bad", "ils_extra"), [("ITEM1|AOevil|AA999", {}),
                                                ("书-1", {"encoding": "cp850"})])
def test_an_item_the_ils_codec_cannot_carry_is_refused_at_once_not_a_500(
        client, session, station, ils, bad, ils_extra):
    order = _legacy_order(session, station, [bad])
    shown = scan(client)
    r = collect(client, shown["event_id"], order.id)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    states = {i["barcode"]: i["state"] for i in body["items"]}
    assert states[bad] == "refused" and list(states.values()).count("lent") == 1
    assert "cannot be sent to the library system" in body["refused"][0]["message"]
    assert body["collected"] is False and body["status"] == "ready"
    session.expire_all()
    job = session.query(IlsJob).filter_by(item_barcode=bad).one()
    assert job.state == "refused" and job.attempts == 0  # never sent, never retried
    stored = session.get(Order, order.id)
    assert stored.status == "ready"  # the order says what the screen said: not all lent
    assert [i.lent_at is not None for i in stored.items] == [True, False]
