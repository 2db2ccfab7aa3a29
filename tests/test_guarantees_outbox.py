"""The webhook outbox's guarantees: one row per event and receiver that wants it, written
in the change's own transaction, with the event's time in UTC to the millisecond.

Found by mutation testing (scripts/mutation.sh webhooks/outbox.py, docs/testing.md).
"""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from factories import ACTOR, make_order
from sqlalchemy import select
from sqlalchemy.orm import Session
from test_webhooks import outbox
from webhook_receiver import SECRET, secret_file

from kiosk.domain import orders as order_ops
from kiosk.domain.order_events import OrderChange
from kiosk.extensions import db
from kiosk.webhooks import outbox as box
from kiosk.webhooks.outbox import Endpoint, WebhookDelivery

ALL = frozenset(box.EVENT_TYPES)


@pytest.fixture
def config_overrides(tmp_path, receiver):
    secret = secret_file(tmp_path)
    return {"webhooks": [
        {"url": receiver.url, "secret_file": secret},
        {"url": receiver.url + "/collected", "secret_file": secret,
         "events": ["order.collected"], "include_patron": True}]}


def change(status: str, previous: str | None, **kw) -> OrderChange:
    fields = {"order_id": 7, "ref": "R-7", "branch": "main", "pickup_code": "AB-123",
              "slot": "A-01", "last_day": dt.date(2027, 1, 20), "station": "Hall",
              "card": "N400000071", "patron_name": "Åse Ødegård",
              "at": dt.datetime(2027, 1, 15, 12, 0, 0, 123456, tzinfo=dt.UTC), **kw}
    return OrderChange(status=status, previous=previous, **fields)


def test_each_status_has_its_event_and_other_moves_have_none():
    assert box.event_type(change("received", None)) == "order.received"
    assert [box.event_type(change(s, "packing")) for s in (
        "ready", "collected", "expired", "cancelled")] == [
        "order.ready", "order.collected", "order.expired", "order.cancelled"]
    assert box.event_type(change("packing", "received")) is None
    assert box.event_type(change("received", "packing")) is None  # back: no event


def test_a_move_without_event_does_not_cost_the_rest_of_the_batch_their_events():
    hook = Endpoint(url="http://127.0.0.1:9/h", secret=SECRET, events=ALL, timeout_s=5)
    rows = box.rows_for([change("packing", "received", order_id=1),
                         change("received", None, order_id=2),
                         change("packing", "received", order_id=3),
                         change("ready", "packing", order_id=4)], [hook], dt.datetime.now(dt.UTC))
    assert [(r["order_id"], r["event_type"]) for r in rows] == [(2, "order.received"),
                                                                (4, "order.ready")]


def test_a_row_is_pending_due_now_with_an_id_of_its_own_per_receiver():
    now = dt.datetime(2027, 1, 15, 12, 0, tzinfo=dt.UTC)
    hooks = [Endpoint(url=f"http://127.0.0.1:9/{n}", secret=SECRET, events=ALL, timeout_s=5)
             for n in (1, 2)]
    rows = box.rows_for([change("received", None)], hooks, now)
    assert [r["endpoint"] for r in rows] == ["http://127.0.0.1:9/1", "http://127.0.0.1:9/2"]
    for row in rows:
        assert (row["state"], row["attempts"], row["created_at"], row["next_attempt_at"]) == (
            "pending", 0, now, now)
        assert row["msg_id"].startswith("msg_") and len(row["msg_id"]) == 36
        assert json.loads(row["payload"])["type"] == "order.received"
    assert rows[0]["msg_id"] != rows[1]["msg_id"]


def test_the_event_time_is_utc_to_the_millisecond_with_a_z():
    oslo = dt.timezone(dt.timedelta(hours=1))
    at = dt.datetime(2027, 1, 15, 13, 0, 0, 123999, tzinfo=oslo)
    body = box.payload(change("received", None, at=at), "order.received", False)
    assert body["timestamp"] == "2027-01-15T12:00:00.123Z"
    assert body["type"] == "order.received"
    assert body["data"] == {"order_id": 7, "ref": "R-7", "branch": "main",
                            "status": "received", "pickup_code": "AB-123", "slot": "A-01",
                            "slot_branch": "main", "last_day": "2027-01-20", "station": "Hall"}
    assert box.payload(change("received", None, last_day=None), "order.received",
                       False)["data"]["last_day"] is None
    with_patron = box.payload(change("collected", "ready"), "order.collected", True)["data"]
    assert (with_patron["card"], with_patron["patron_name"]) == ("N400000071", "Åse Ødegård")


def test_each_receiver_gets_only_the_events_it_asked_for_with_patron_only_if_asked(
        app, session, station, receiver):
    order = make_order(session, card="N400000072", slot="A-02", station=station)
    order_ops.collect(session, order, ACTOR)
    session.commit()
    rows = outbox(app)
    everything = [(r.event_type, json.loads(r.payload)) for r in rows
                  if r.endpoint == receiver.url]
    collected = [(r.event_type, json.loads(r.payload)) for r in rows
                 if r.endpoint == receiver.url + "/collected"]
    assert [kind for kind, _ in everything] == ["order.received", "order.ready",
                                                "order.collected"]
    assert all("card" not in body["data"] for _, body in everything)
    [(kind, body)] = collected
    assert kind == "order.collected" and body["data"]["card"] == "N400000072"


def test_a_change_outside_the_app_writes_no_event_and_fails_nothing(app, session):
    """A session used with no app context (a script on the database) has no receivers."""
    with app.app_context():
        engine = db.engine
    errors: list[BaseException] = []

    def outside() -> None:
        try:
            with Session(engine) as plain:
                box.write(plain, [change("received", None)])
                plain.commit()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=outside)
    thread.start()
    thread.join()
    assert errors == []
    with app.app_context():
        assert db.session.scalars(select(WebhookDelivery)).all() == []


def test_a_station_without_receivers_writes_no_event(app, session, monkeypatch):
    monkeypatch.setattr(app.extensions["webhooks"], "endpoints", [])
    make_order(session)
    monkeypatch.delitem(app.extensions, "webhooks")
    make_order(session)
    assert outbox(app) == []
