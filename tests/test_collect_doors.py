"""One collect, three doors: the kiosk, the staff desk and the API lend alike (pysip2 peer).

Each door collects the same kind of order in the same three situations (every item lent,
the ILS down so the checkouts are queued, one item refused) and must leave the same
trace: the same answer per item, the same checkout jobs, the same loans in the library
system, the same order status and the same audit actions. Runs on SQLite and, with
KIOSK_TEST_POSTGRES, on PostgreSQL.
"""

from __future__ import annotations

import pytest
from factories import make_order
from helpers_sip2 import PATRON_CARD, ils_config
from staff_helpers import login

from kiosk.domain import audit
from kiosk.models import IlsJob, Order

CARD = PATRON_CARD
TOKEN = "doors-token-0123456789abcdefghij"
DOORS = ["kiosk", "staff", "api"]


@pytest.fixture
def config_overrides(ils, tmp_path):
    tokens = tmp_path / "api-tokens"
    tokens.write_text(TOKEN + "\n")
    return {"ils": ils_config(ils[1].port, tmp_path), "api": {"tokens_file": str(tokens)}}


def collect_at(door: str, app, client, order: Order) -> dict:
    """Collect order through one door; return the per-item answer and whether it was taken."""
    if door == "kiosk":
        event_id = client.post("/kiosk/scan", json={"code": order.card}).get_json()["event_id"]
        r = client.post("/kiosk/collect", json={"event_id": event_id, "order_id": order.id})
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        return {"collected": body["collected"], "items": body["items"], "ils": body["ils"]}
    if door == "staff":
        login(client, app)
        r = client.post("/staff/collect", data={"code": order.pickup_code},
                        headers={"X-Requested-With": "fetch"})
        body = r.get_json()
        with app.app_context():
            from kiosk.domain.pickup import ItemOutcome
            from kiosk.extensions import db

            jobs = db.session.query(IlsJob).filter_by(order_id=order.id) \
                .order_by(IlsJob.id).all()
            # the desk answers in words; its per-item trace is the jobs it left
            states = {"done": "lent", "queued": "queued", "refused": "refused"}
            items = [vars(ItemOutcome(j.item_barcode, states[j.state], j.due_date, j.message))
                     for j in jobs]
        return {"collected": body["ok"], "items": items, "ils": None}
    r = client.post(f"/api/v1/orders/{order.id}/collect",
                    headers={"Authorization": f"Bearer {TOKEN}"})
    body = r.get_json()
    if r.status_code == 409:
        pickup = body["detail"]["pickup"]
        assert body["detail"]["order"]["status"] == "ready"
    else:
        assert r.status_code == 200, body
        pickup = body["pickup"]
        assert body["status"] == "collected"
    return {"collected": pickup["collected"], "items": pickup["items"], "ils": pickup["ils"]}


def trace(session, order_id: int) -> dict:
    """What a collect left in the database: status, slot, jobs, items, audit actions."""
    session.expire_all()
    order = session.get(Order, order_id)
    jobs = session.query(IlsJob).filter_by(order_id=order_id).order_by(IlsJob.id)
    return {"status": order.status, "on_shelf": order.place_id is not None,
            "jobs": [(j.state, j.card, j.attempts, j.due_date) for j in jobs],
            "lent": [i.lent_at is not None for i in order.items],
            "audit": [a.action for a in order.audit][-1]}


@pytest.mark.parametrize("door", DOORS)
def test_every_door_lends_each_item_once(door, app, client, session, station, ils):
    lib, _ = ils
    order = make_order(session, card=CARD, items=2, slot="A-01", station=station)
    answer = collect_at(door, app, client, order)
    assert answer["collected"] and answer["ils"] in ("online", None)
    assert [(i["state"], i["due_date"]) for i in answer["items"]] == [("lent", "2031-01-15")] * 2
    assert lib.loans == {i.barcode: CARD for i in order.items}
    assert trace(session, order.id) == {
        "status": "collected", "on_shelf": False, "audit": "collected", "lent": [True, True],
        "jobs": [("done", CARD, 1, "2031-01-15")] * 2}


@pytest.mark.parametrize("door", DOORS)
def test_every_door_queues_the_checkouts_when_the_ils_is_down(door, app, client, session,
                                                              station, ils):
    lib, server = ils
    order = make_order(session, card=CARD, items=2, slot="A-01", station=station)
    server.stop()
    answer = collect_at(door, app, client, order)
    assert answer["collected"] and answer["ils"] in ("offline", None)
    assert [i["state"] for i in answer["items"]] == ["queued", "queued"]
    assert lib.loans == {}
    assert trace(session, order.id) == {
        "status": "collected", "on_shelf": False, "audit": "collected", "lent": [False, False],
        "jobs": [("queued", CARD, 0, None)] * 2}
    last = session.get(Order, order.id).audit[-1].detail
    assert "queued for the library system" in audit.render(last)


@pytest.mark.parametrize("door", DOORS)
def test_every_door_keeps_an_order_with_a_refused_item_on_its_slot(door, app, client, session,
                                                                   station, ils):
    lib, _ = ils
    order = make_order(session, card=CARD, items=2, slot="A-01", station=station)
    refused = order.items[1].barcode
    lib.refuse[refused] = "Reservert for en annen låner"
    answer = collect_at(door, app, client, order)
    assert not answer["collected"]
    assert [(i["barcode"], i["state"], i["message"]) for i in answer["items"]] == [
        (order.items[0].barcode, "lent", None),
        (refused, "refused", "Reservert for en annen låner")]
    assert lib.loans == {order.items[0].barcode: CARD}
    assert trace(session, order.id) == {
        "status": "ready", "on_shelf": True, "audit": "partly_lent", "lent": [True, False],
        "jobs": [("done", CARD, 1, "2031-01-15"), ("refused", CARD, 1, None)]}


def test_api_collect_of_a_bag_without_card_needs_the_patrons_card(app, client, session,
                                                                  station, ils):
    """An item bag whose owner the ILS has not named: the caller gives the card, as staff do."""
    lib, _ = ils
    order = make_order(session, card=CARD, items=1, slot="A-02", station=station)
    order.card = None
    session.commit()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"/api/v1/orders/{order.id}/collect"
    r = client.post(url, headers=headers)
    assert r.status_code == 409 and r.get_json()["error"] == "card needed"
    assert client.post(url, headers=headers, json={"card": "nonsense"}).status_code == 400
    assert client.post(url, headers=headers, json={"card": 12}).status_code == 400
    assert lib.checkouts == {} and trace(session, order.id)["status"] == "ready"
    r = client.post(url, headers=headers, json={"card": CARD, "reason": "locker 4"})
    assert r.status_code == 200 and r.get_json()["pickup"]["items"][0]["state"] == "lent"
    assert lib.loans == {order.items[0].barcode: CARD}
    again = session.get(Order, order.id)
    assert again.card == CARD and [a.action for a in again.audit][-2:] == ["card_given",
                                                                            "collected"]


def test_api_collect_of_another_patrons_card_is_refused(app, client, session, station, ils):
    order = make_order(session, card=CARD, items=1, slot="A-02", station=station)
    r = client.post(f"/api/v1/orders/{order.id}/collect", json={"card": "N000000002"},
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 409 and ils[0].checkouts == {}
