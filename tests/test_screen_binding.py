"""Collect, print and PIN belong to the screen that showed the scan (a per-screen secret).

Another client that learnt an event id and an order id (from /kiosk/events, say) can
neither collect that order, nor print its slip, nor try PINs against that card.
"""

from __future__ import annotations

import pytest
from factories import make_order
from helpers_sip2 import PATRON_CARD, ils_config

from kiosk.models import Order

CARD = PATRON_CARD


@pytest.fixture
def config_overrides(tmp_path):
    return {"printer": {"kind": "file", "path": str(tmp_path / "printer.bin")}}


def _posts(client, shown: dict, order_id: int) -> list[int]:
    return [client.post("/kiosk/collect", json={"event_id": shown["event_id"],
                                                "order_id": order_id}).status_code,
            client.post("/kiosk/print", json={"event_id": shown["event_id"]}).status_code]


def test_another_client_cannot_act_on_a_screens_scan(app, session, station):
    order = make_order(session, card=CARD, slot="A-01", station=station)
    screen, other = app.test_client(), app.test_client()
    assert screen.get("/").status_code == 200  # the page brings the screen's secret
    shown = screen.post("/kiosk/scan", json={"code": CARD}).get_json()
    assert shown["outcome"] == "ready" and shown["pickups"][0]["order_id"] == order.id
    other.get("/")  # a screen of its own does not help
    assert _posts(other, shown, order.id) == [404, 404]
    assert app.test_client().post("/kiosk/collect", json={
        "event_id": shown["event_id"], "order_id": order.id}).status_code == 404
    session.expire_all()
    assert session.get(Order, order.id).status == "ready"
    assert screen.post("/kiosk/print", json={"event_id": shown["event_id"]}).status_code \
        in (200, 503)  # reached the printer
    r = screen.post("/kiosk/collect", json={"event_id": shown["event_id"],
                                            "order_id": order.id})
    assert r.status_code == 200 and r.get_json()["status"] == "collected"


def test_a_scanner_scan_belongs_to_the_screens_listening(app, session, station):
    order = make_order(session, card=CARD, slot="A-01", station=station)
    screen, late = app.test_client(), app.test_client()
    screen.get("/")
    late.get("/")
    stream = screen.get("/kiosk/events", buffered=False)  # subscribed from here on
    try:
        shown = station.handle_scan(CARD, source="serial")
    finally:
        stream.close()
    late.get("/kiosk/events", buffered=False).close()  # listening only afterwards
    assert _posts(late, shown, order.id) == [404, 404]
    assert _posts(screen, shown, order.id)[0] == 200


def test_event_ids_are_random_not_counted(app, session, station):
    client = app.test_client()
    ids = [client.post("/kiosk/scan", json={"code": CARD}).get_json()["event_id"]
           for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(isinstance(i, str) and len(i) >= 16 and not i.isdigit() for i in ids)


def test_pins_only_from_the_screen_that_asked(make_settings, ils, tmp_path):
    from kiosk import create_app
    from kiosk.extensions import db
    from kiosk.schema import upgrade_database

    app = create_app(make_settings({"ils": ils_config(ils[1].port, tmp_path,
                                                      require_pin=True)}),
                     {"TESTING": True, "WTF_CSRF_ENABLED": False})
    upgrade_database(app)
    try:
        screen, other = app.test_client(), app.test_client()
        screen.get("/")
        asked = screen.post("/kiosk/scan", json={"code": CARD}).get_json()
        r = other.post("/kiosk/pin", json={"event_id": asked["event_id"], "pin": "1234"})
        assert r.status_code == 404
        r = screen.post("/kiosk/pin", json={"event_id": asked["event_id"], "pin": "1234"})
        assert r.status_code == 200
    finally:
        link = app.extensions["station"].ils
        if link is not None:
            link.close()
        with app.app_context():
            db.engine.dispose()
