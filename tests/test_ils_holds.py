"""Holds looked up over SIP2 at scan time (issue 8), against pysip2 as the library system."""

from __future__ import annotations

import pytest
from factories import make_order
from helpers_sip2 import FakeLibrary, Patron, SipServer, ils_config

from kiosk.ils import sip2
from kiosk.ils.holds import here, reconcile
from kiosk.ils.link import patron_info

CARD = "N000000001"


@pytest.fixture
def ils():
    lib = FakeLibrary()
    lib.patrons[CARD] = Patron()
    server = SipServer(lib).start()
    yield lib, server
    server.stop()


@pytest.fixture
def config_overrides(ils, tmp_path):
    return {"ils": ils_config(ils[1].port, tmp_path, holds_from_ils=True),
            "kiosk": {"rate_limit": "off", "show_names": True}}


@pytest.fixture(autouse=True)
def _close_link(app):
    yield
    if app.extensions["station"].ils is not None:
        app.extensions["station"].ils.close()


def scan(client, card=CARD):
    return client.post("/kiosk/scan", json={"code": card}).get_json()


def test_waiting_holds_show_the_slots_that_hold_them(client, session, station, ils):
    lib, _ = ils
    # shelved through the station without the patron's card: the ILS knows whose it is
    shelved = make_order(session, card="N000000777", items=2, slot="B-03", station=station)
    lib.patrons[CARD].holds = [shelved.items[0].barcode]
    body = scan(client)
    assert body["outcome"] == "ready" and [p["slot"] for p in body["pickups"]] == ["B-03"]
    assert body["notices"] == [] and body["name"] is None  # the ILS's name stays off
    assert lib.patron_requests[-1].summary == "Y" + " " * 9
    response = client.post("/kiosk/collect",
                           json={"event_id": body["event_id"], "order_id": shelved.id})
    assert response.get_json()["collected"]
    assert set(lib.loans) == {i.barcode for i in shelved.items}


def test_a_hold_waiting_but_on_no_slot_says_ask_at_the_desk(client, session, station, ils):
    lib, _ = ils
    lib.patrons[CARD].holds = ["0399999999"]
    body = scan(client)
    assert body["outcome"] == "waiting" and body["notices"] == ["ask_at_desk"]


def test_imported_orders_keep_working_beside_the_ils(client, session, station, ils):
    make_order(session, card=CARD, slot="A-02", station=station)
    body = scan(client)
    assert [p["slot"] for p in body["pickups"]] == ["A-02"] and body["notices"] == []


def test_ils_down_falls_back_to_what_the_station_knows(client, session, station, ils):
    lib, server = ils
    make_order(session, card=CARD, slot="A-04", station=station)
    server.stop()
    body = scan(client)
    assert [p["slot"] for p in body["pickups"]] == ["A-04"]
    assert station.devices["ils"].state == "disconnected"


def test_hold_shelved_at_another_branch_is_not_shown_here(client, session, station, ils):
    lib, _ = ils
    elsewhere = make_order(session, card=CARD, branch="other", status="ready")
    lib.patrons[CARD].holds = [elsewhere.items[0].barcode]
    body = scan(client)
    assert body["pickups"] == [] and body["notices"] == ["ask_at_desk"]


def test_pickup_location_of_another_branch_is_left_out():
    frame = sip2.encode("64", [" " * 14, "000", sip2.sip_datetime()] + ["0001"] + ["0000"] * 5,
                        [("AO", "lib"), ("AA", CARD), ("AE", ""), ("AS", "0301"),
                         ("BS", "bekkestua")], sequence=1, encoding="utf-8")
    info = patron_info(sip2.decode(frame, encoding="utf-8"))
    assert info.hold_items == ["0301"]
    assert not here(info, ["sandvika"]) and here(info, ["sandvika", "bekkestua"])


def test_reconciliation_finds_shelved_items_no_longer_waiting(session, station, ils):
    lib, server = ils
    kept = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    gone = make_order(session, card=CARD, items=1, slot="A-02", station=station)
    lib.patrons[CARD].holds = [kept.items[0].barcode]  # the other was cancelled in the ILS
    report = reconcile(session, station.ils, station.branch)
    assert report.not_waiting == [gone.items[0].barcode] and report.checked_cards == 1
    server.stop()
    station.ils._retry_at = 0
    assert reconcile(session, station.ils, station.branch).unreachable
