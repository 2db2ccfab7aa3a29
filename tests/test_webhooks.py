"""Webhooks: signed with Standard Webhooks, written with the change, delivered in order."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from days import ORDINARY_TUESDAY
from factories import ACTOR, make_order
from sqlalchemy import select
from staff_helpers import login
from standardwebhooks.webhooks import Webhook
from webhook_receiver import SECRET, Receiver, secret_file

from kiosk.domain import clearance, shelving
from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.webhooks import runtime
from kiosk.webhooks.delivery import BACKOFF, Deliverer
from kiosk.webhooks.outbox import WebhookDelivery

TOKEN = "webhook-test-token-0123456789"


@pytest.fixture
def config_overrides(tmp_path, receiver):
    secret = secret_file(tmp_path)
    tokens = tmp_path / "api-tokens"
    tokens.write_text(TOKEN + "\n")
    receiver.log.clear()
    receiver.status, receiver.gate = 200, None
    return {"webhooks": [{"url": receiver.url, "secret_file": secret, "timeout_s": 5}],
            "api": {"tokens_file": str(tokens)}}


class Clock:
    def __init__(self):
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def deliverer(app, clock=None) -> Deliverer:
    d = runtime.deliverer(app)
    if clock is not None:
        d.clock = clock
    return d


def outbox(app) -> list[WebhookDelivery]:
    with app.app_context():
        rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        db.session.expunge_all()
        return rows


API = {"Authorization": f"Bearer {TOKEN}"}


def test_events_through_the_api_are_signed_ordered_and_verified(app, client, receiver):
    created = client.post("/api/v1/orders", headers=API, json={
        "ref": "WH-1", "card": "N400000001", "branch": "main",
        "items": [{"barcode": "0400001", "title": "Bok"}]}).get_json()
    assert client.post(f"/api/v1/orders/{created['id']}/shelve", headers=API,
                       json={"slot": "A-02"}).status_code == 200
    assert client.post(f"/api/v1/orders/{created['id']}/collect", headers=API).status_code == 200
    assert receiver.log == []  # nothing is sent on the request's thread
    assert deliverer(app).deliver_due() == 3
    verifier = Webhook(SECRET)
    bodies = [verifier.verify(e["body"], e["headers"]) for e in receiver.log]
    assert [b["type"] for b in bodies] == ["order.received", "order.ready", "order.collected"]
    ready = bodies[1]["data"]
    assert ready == {"order_id": created["id"], "ref": "WH-1", "branch": "main",
                     "status": "ready", "pickup_code": created["pickup_code"], "slot": "A-02",
                     "slot_branch": "main", "last_day": ready["last_day"],
                     "station": "Test station"}
    assert dt.date.fromisoformat(ready["last_day"]) > dt.date.today()
    assert "N400000001" not in b"".join(e["body"] for e in receiver.log).decode()
    assert len(set(receiver.ids())) == 3
    tampered = dict(receiver.log[0]["headers"], **{"webhook-id": receiver.log[1]["id"]})
    with pytest.raises(Exception, match="signature"):
        verifier.verify(receiver.log[0]["body"], tampered)
    assert {r.state for r in outbox(app)} == {"delivered"}


@pytest.mark.time_machine(ORDINARY_TUESDAY)
def test_every_door_writes_its_event(app, client, session, station, receiver, tmp_path):
    from click.testing import CliRunner

    from kiosk.cli import cli

    def kinds() -> list[str]:
        return [r.event_type for r in outbox(app)]

    # API: received, then cancelled
    made = client.post("/api/v1/orders", headers=API, json={
        "card": "N400000011", "branch": "main", "items": [{"barcode": "0400011"}]}).get_json()
    client.post(f"/api/v1/orders/{made['id']}/cancel", headers=API)
    assert kinds() == ["order.received", "order.cancelled"]
    # kiosk: the patron collects after a scan
    order = make_order(session, card="N400000012", slot="A-03", station=station)
    scan = client.post("/kiosk/scan", json={"code": "N400000012"}).get_json()
    body = client.post("/kiosk/collect", json={"event_id": scan["event_id"],
                                               "order_id": order.id})
    assert body.status_code == 200, body.data
    assert kinds()[-3:] == ["order.received", "order.ready", "order.collected"]
    # staff: cancel on the order page; clearance: a bag past its last day
    staff = app.test_client()
    login(staff, app)
    other = make_order(session, card="N400000013")
    cancelled = staff.post(f"/staff/orders/{other.id}/cancel", data={"confirm": "yes"})
    assert cancelled.status_code == 303  # a post without confirm=yes only asks
    late = make_order(session, card="N400000014", slot="B-02", station=station)
    late.deadline = dt.date(2026, 12, 6)  # a closed Sunday: its last day was Monday 7
    session.commit()
    cleared = staff.post("/staff/clearance", data={"code": late.pickup_code})
    assert cleared.status_code in (200, 302, 303), cleared.data
    assert kinds()[-5:] == ["order.received", "order.cancelled", "order.received",
                            "order.ready", "order.expired"]
    # CLI import: one event per order, in the import's transaction
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text("card,item_barcode\nN400000015,0400015\nN400000016,0400016\n")
    settings_file = tmp_path / "station.toml"
    settings_file.write_text(_toml(app))
    result = CliRunner().invoke(cli, ["--config", str(settings_file), "import", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert kinds()[-2:] == ["order.received", "order.received"]
    assert len(kinds()) == 12


def _toml(app) -> str:
    s = app.config["KIOSK_SETTINGS"]
    hook = s.webhooks[0]
    return (f'[station]\nname = "CLI"\nbranch = "main"\n[database]\nurl = "{s.database_url}"\n'
            f'[[webhooks]]\nurl = "{hook["url"]}"\nsecret_file = "{hook["secret_file"]}"\n')


def test_a_failed_change_writes_no_event(app, session, station):
    order = make_order(session, slot="A-04", station=station)
    before = len(outbox(app))
    with pytest.raises(order_ops.OrderError):
        order_ops.move(session, order, "received", ACTOR)  # ready → received: not allowed
    order_ops.collect(session, order, ACTOR)
    session.rollback()  # the change is abandoned: so is its event
    assert len(outbox(app)) == before


def test_receiver_down_then_up_gets_every_event_in_order_with_the_same_id(app, session,
                                                                          station, receiver):
    orders = [make_order(session, slot=f"A-0{n}", station=station) for n in (1, 2, 3)]
    for order in orders:
        order_ops.collect(session, order, ACTOR)
    session.commit()
    clock = Clock()
    receiver.server.shutdown()  # the receiver is down: nothing listens on its port
    receiver.server.server_close()
    sender = deliverer(app, clock)
    assert sender.deliver_due() == 3  # the first event of each order; the rest wait behind it
    rows = outbox(app)
    tried = [r for r in rows if r.attempts]
    assert len(tried) == 3 and all("Connection refused" in r.last_error for r in tried)
    assert all(r.last_status is None for r in tried)
    with Receiver(port=receiver.port) as back:  # up again, an hour later
        clock.now += dt.timedelta(seconds=1)
        assert sender.deliver_due() == 0  # backoff: not yet
        clock.now += dt.timedelta(hours=1)
        assert sender.deliver_due() == 9
        got = back.ids()
        events = back.events()
    assert set(got) == {r.msg_id for r in rows} and len(got) == 9  # ids as written, once each
    assert {r.msg_id for r in tried} < set(got)
    per_order: dict[int, list[str]] = {}
    for event in events:
        per_order.setdefault(event["data"]["order_id"], []).append(event["type"])
    assert per_order == {o.id: ["order.received", "order.ready", "order.collected"]
                         for o in orders}


def test_retries_for_a_day_then_gives_up_and_staff_can_retry(app, session, receiver):
    receiver.status = 500
    make_order(session)
    clock = Clock()
    start = clock.now
    sender = deliverer(app, clock)
    while sender.deliver_due():
        clock.now += dt.timedelta(hours=11)
    row = outbox(app)[0]
    assert row.state == "failed" and row.attempts == len(BACKOFF) + 1
    assert row.last_attempt_at.replace(tzinfo=dt.UTC) - start >= dt.timedelta(hours=24)
    assert len(set(receiver.ids())) == 1
    admin = app.test_client()
    login(admin, app, "ada", role="admin")
    page = admin.get("/staff/webhooks/").get_data(as_text=True)
    assert "HTTP 500" in page and f'id="webhook-{row.id}"' in page
    receiver.status = 200
    assert admin.post(f"/staff/webhooks/{row.id}/retry").status_code == 302
    assert sender.deliver_due() == 1
    assert outbox(app)[0].state == "delivered"
    assert receiver.ids()[-1] == row.msg_id


def test_the_webhooks_page_is_for_admins(app):
    staff = app.test_client()
    login(staff, app)
    assert staff.get("/staff/webhooks/").status_code == 403


def test_a_slow_receiver_never_holds_a_scan_or_a_staff_action(app, client, session, station,
                                                             receiver):
    app.config["KIOSK_WEBHOOK_POLL_S"] = 0.05
    receiver.gate = threading.Event()
    first = make_order(session, card="N400000021", slot="A-05", station=station)
    stop = runtime.start(app)
    try:
        assert receiver.entered.wait(30), "the worker never posted"
        # The receiver holds the worker's request; the station goes on meanwhile.
        scan = client.post("/kiosk/scan", json={"code": "N400000021"})
        assert scan.get_json()["outcome"] == "ready"
        staff = app.test_client()
        login(staff, app)
        done = staff.post(f"/staff/orders/{first.id}/cancel", data={"confirm": "yes"})
        assert done.status_code in (200, 302, 303)
        assert not receiver.gate.is_set() and len(receiver.log) == 1
        with app.app_context():
            assert order_ops.get(db.session, first.id).status == "cancelled"
    finally:
        receiver.gate.set()
        stop()
    assert [r.event_type for r in outbox(app)] == ["order.received", "order.ready",
                                                   "order.cancelled"]


def test_include_patron_adds_card_and_name(app, session, receiver, tmp_path, make_settings):
    from kiosk.domain.order_events import OrderChange
    from kiosk.webhooks.outbox import payload

    order = make_order(session, card="N400000031")
    change = OrderChange.of(order, "Test station", None)
    assert payload(change, "order.received", True)["data"]["card"] == "N400000031"
    assert "card" not in payload(change, "order.received", False)["data"]


@pytest.mark.time_machine(ORDINARY_TUESDAY)
def test_shelving_and_clearance_events_carry_slot_and_day(app, session, station):
    order = make_order(session, card="N400000041")
    shelving.shelve(session, order, shelving.get_slot(session, "B-01", "main"), ACTOR,
                    station.calendar, 7)
    order.deadline = dt.date(2026, 12, 7)  # yesterday, an open Monday
    clearance.clear_bag(session, order.pickup_code, ACTOR, station.calendar)
    session.commit()
    expired = json.loads(outbox(app)[-1].payload)
    assert expired["type"] == "order.expired"
    assert expired["data"]["slot"] == "B-01"


@pytest.mark.parametrize("entry, problem", [
    ({"url": "ftp://x", "secret_file": "{secret}"}, "webhooks[0].url: must be an http"),
    ({"url": "http://127.0.0.1:1/h", "secret_file": "{secret}", "events": ["order.lost"]},
     "webhooks[0].events: unknown event order.lost"),
    ({"url": "http://127.0.0.1:1/h", "secret_file": "/nonexistent/secret"},
     "webhooks[0].secret_file: cannot read /nonexistent/secret"),
    ({"url": "http://127.0.0.1:1/h", "secret_file": "{plain}"},
     "webhooks[0].secret_file: {plain} must hold a secret such as whsec_"),
    ({"secret_file": "{secret}"}, "webhooks[0].url: required"),
])
def test_bad_webhook_entries_are_named(tmp_path, entry, problem):
    from kiosk.config import ConfigError, parse

    (tmp_path / "s").write_text(SECRET)
    (tmp_path / "p").write_text("not a secret\n")
    names = {"secret": str(tmp_path / "s"), "plain": str(tmp_path / "p")}
    entry = {k: v.format(**names) if isinstance(v, str) else v for k, v in entry.items()}
    with pytest.raises(ConfigError) as caught:
        parse({"webhooks": [entry]}, source="test.toml")
    assert any(p.startswith(f"test.toml: {problem.format(**names)}")
               for p in caught.value.problems), caught.value.problems


def test_a_cancelled_order_keeps_its_ref_in_the_event(app, session):
    order = make_order(session, ref="WH-CANCEL")
    order_ops.cancel(session, order, ACTOR)
    session.commit()
    events = [json.loads(r.payload) for r in outbox(app)]
    assert [(e["type"], e["data"]["ref"]) for e in events] == [
        ("order.received", "WH-CANCEL"), ("order.cancelled", "WH-CANCEL")]
