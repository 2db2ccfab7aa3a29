"""One state change per order, whatever pushes at once (issue 23).

Bursts of 16 threads through a real waitress server, each a client of its own (the API, the
kiosk screen, the staff desk), all let go at once by a barrier. Exactly one change wins;
the others answer 409 as a sequential loser would, never 500; the audit trail and the
webhooks' outbox hold the winner's rows only. Runs on SQLite and, with KIOSK_TEST_POSTGRES,
on PostgreSQL.
"""

from __future__ import annotations

import http.cookiejar
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from factories import ACTOR, make_order
from staff_helpers import PASSWORD, make_user

from kiosk.domain import order_writes
from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.models import AuditEvent, Order
from kiosk.webhooks.outbox import WebhookDelivery

BURST = 16
TOKEN = "burst-token-0123456789abcdefghij"


@pytest.fixture
def config_overrides(tmp_path):
    tokens = tmp_path / "api-tokens"
    tokens.write_text(TOKEN + "\n")
    secret = tmp_path / "webhook-secret"
    secret.write_text("whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" + "\n")
    # The receiver is never reached in these tests: the outbox rows are what is counted.
    return {"api": {"tokens_file": str(tokens)},
            "webhooks": [{"url": "http://127.0.0.1:9/hooks", "secret_file": str(secret)}],
            "server": {"threads": BURST}}


class Client:
    """One HTTP client of its own (cookies kept), speaking to the live server."""

    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def call(self, method: str, path: str, *, body: dict | None = None,
             form: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
        data, hdrs = None, dict(headers or {})
        if body is not None:
            data, hdrs["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.base + path, data=data, headers=hdrs,
                                         method=method)
        try:
            with self.opener.open(request, timeout=60) as r:
                return r.status, _json(r.read())
        except urllib.error.HTTPError as e:
            return e.code, _json(e.read())


def _json(raw: bytes) -> dict:
    try:
        return json.loads(raw)
    except ValueError:
        return {"raw": raw[:200].decode(errors="replace")}


API = {"Authorization": f"Bearer {TOKEN}"}
NO_WEBHOOKS = pytest.mark.parametrize("config_overrides", [{}])
FETCH = {"X-Requested-With": "fetch"}


def door(kind: str, base: str, app, order: SimpleNamespace, slot: str | None = None):
    """Return a ready-to-fire request (a function) for one door and action."""
    c = Client(base)
    if kind.startswith("staff"):
        c.call("POST", "/staff/login", form={"username": "kari", "password": PASSWORD})
    if kind == "kiosk-collect":
        c.call("GET", "/")
        status, scan = c.call("POST", "/kiosk/scan", body={"code": order.card})
        assert status == 200 and scan["pickups"], scan
        return lambda: c.call("POST", "/kiosk/collect",
                              body={"event_id": scan["event_id"], "order_id": order.id})
    if kind in ("api-collect", "api-cancel"):
        return lambda: c.call("POST", f"/api/v1/orders/{order.id}/{kind[4:]}", body={},
                              headers=API)
    if kind in ("staff-collect", "staff-cancel"):
        return lambda: c.call("POST", f"/staff/orders/{order.id}/{kind[6:]}",
                              form={"confirm": "yes"},
                              headers=FETCH)
    if kind == "api-shelve":
        return lambda: c.call("POST", f"/api/v1/orders/{order.id}/shelve",
                              body={"slot": slot}, headers=API)
    if kind == "staff-shelve":
        return lambda: c.call("POST", f"/staff/shelving/{order.id}", form={"slot": slot},
                              headers=FETCH)
    raise AssertionError(kind)


def burst(calls: list) -> list[tuple[int, dict]]:
    """Fire every call at once (a barrier lets them go together); return the answers."""
    gate = threading.Barrier(len(calls))

    def fire(call):
        gate.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(fire, calls))


def won(answer: tuple[int, dict]) -> bool:
    status, body = answer
    return status == 200 and body.get("ok", True) is not False


def rows(app, order_id: int) -> tuple[list[AuditEvent], list[WebhookDelivery], Order]:
    with app.app_context():
        audit = db.session.query(AuditEvent).filter_by(order_id=order_id) \
            .order_by(AuditEvent.id).all()
        hooks = db.session.query(WebhookDelivery).filter_by(order_id=order_id) \
            .order_by(WebhookDelivery.id).all()
        order = db.session.get(Order, order_id)
        db.session.expunge_all()
        return audit, hooks, order


@pytest.fixture
def ready_order(app, station):
    make_user(app, "kari")
    with app.app_context():
        order = make_order(db.session, slot="A-01", station=station)
        return SimpleNamespace(id=order.id, card=order.card)


def test_sixteen_collects_through_every_door_at_once_collect_once(app, live_server,
                                                                  ready_order):
    kinds = ["api-collect", "kiosk-collect", "staff-collect"]
    calls = [door(kinds[i % 3], live_server, app, ready_order) for i in range(BURST)]
    answers = burst(calls)
    assert all(status in (200, 409) for status, _ in answers), answers
    assert sum(won(a) for a in answers) == 1, answers
    audit, hooks, order = rows(app, ready_order.id)
    assert order.status == "collected"
    assert [a.action for a in audit].count("collected") == 1
    assert [h.event_type for h in hooks].count("order.collected") == 1


def test_eight_collects_racing_eight_cancels_leave_one_story(app, live_server, ready_order):
    kinds = ["api-collect", "kiosk-collect", "staff-collect", "api-collect",
             "api-cancel", "staff-cancel", "api-cancel", "staff-cancel"]
    calls = [door(kinds[i % 8], live_server, app, ready_order) for i in range(BURST)]
    answers = burst(calls)
    assert all(status in (200, 409) for status, _ in answers), answers
    winners = [kinds[i % 8] for i, a in enumerate(answers) if won(a)]
    assert len(winners) == 1, answers
    audit, hooks, order = rows(app, ready_order.id)
    closing = [a.action for a in audit if a.action in ("collected", "cancelled")]
    assert closing == [order.status]  # the one row the trail holds is the state it is in
    assert order.status == {"collect": "collected", "cancel": "cancelled"}[
        winners[0].split("-")[1]]
    assert [h.event_type for h in hooks if h.event_type != "order.received"
            and h.event_type != "order.ready"] == [f"order.{order.status}"]


def test_sixteen_shelvings_of_one_bag_on_two_slots_tell_where_it_is(app, live_server,
                                                                     station):
    make_user(app, "kari")
    with app.app_context():
        order = make_order(db.session, station=station)
        order_ops.finish_packing(db.session, order, ACTOR, override_reason="by hand")
        db.session.commit()
        order = SimpleNamespace(id=order.id, card=order.card)
    kinds = ["api-shelve", "staff-shelve"]
    slots = ["A-03", "B-02"]
    calls = [door(kinds[i % 2], live_server, app, order, slots[(i // 2) % 2])
             for i in range(BURST)]
    answers = burst(calls)
    assert all(status in (200, 409) for status, _ in answers), answers
    wins = sum(won(a) for a in answers)
    assert wins >= 1
    audit, hooks, shelved = rows(app, order.id)
    moves = [a for a in audit if a.action == "shelved"]
    # No loser left a row. A shelving that read the bag after the winner's had landed is
    # answered as it would be one after the other: a move (a row of its own) or, on the
    # slot the bag is on already, nothing to do (200, no row).
    assert 1 <= len(moves) <= wins
    assert moves[0].from_status == "packing" and all(
        m.from_status == "ready" for m in moves[1:])
    on = [json.loads(m.detail).get("new") or json.loads(m.detail)["slot"] for m in moves]
    assert all(a != b for a, b in zip(on, on[1:], strict=False))  # each row a real move
    ready = [json.loads(h.payload)["data"]["slot"] for h in hooks
             if h.event_type == "order.ready"]
    assert ready == [on[0]]  # one webhook, naming the slot the bag went on
    assert shelved.status == "ready" and shelved.slot_label == on[-1]


@NO_WEBHOOKS  # no delivery thread holding the database for a moment
def test_a_change_that_lost_to_another_at_the_same_moment_is_a_409(app, session, station):
    """The domain's compare and set: the slower writer is refused, nothing of it kept."""
    order = make_order(session, slot="A-01", station=station)
    with db.engine.begin() as other:  # another station collects first
        other.execute(db.text("UPDATE orders SET status = 'collected', place_id = NULL, "
                              "version = version + 1 WHERE id = :id"), {"id": order.id})

    with pytest.raises(order_writes.ChangedMeanwhile) as exc:
        order_writes.commit_work(session, lambda: order_ops.cancel(session, order, ACTOR))
    assert exc.value.status_code == 409 and exc.value.detail["status"] == "collected"
    assert session.query(AuditEvent).filter_by(order_id=order.id,
                                               action="cancelled").count() == 0



@NO_WEBHOOKS  # no delivery thread holding the database for a moment
def test_a_change_retried_after_a_lock_is_refused_if_the_order_moved_on_meanwhile(
        app, session, station):
    """The first try of a cancel meets a busy database, and while it waited another station
    corrected the order. The retry must not cancel an order it never saw as it is now."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    order = make_order(session, slot="A-01", station=station)
    tries = []

    def work():
        tries.append(1)
        if len(tries) == 1:
            assert order.status == "ready"  # read: the cancel is decided on this state
            order.pack_note = "about to cancel"  # changed, not written yet
            with db.engine.begin() as other:  # meanwhile, another station corrects it
                other.execute(db.text("UPDATE orders SET card = 'N000000999', "
                                      "version = version + 1 WHERE id = :id"), {"id": order.id})
            raise OperationalError("UPDATE orders", {},
                                   sqlite3.OperationalError("database is locked"))
        order_ops.cancel(session, order, ACTOR)

    with pytest.raises(order_writes.ChangedMeanwhile):
        order_writes.commit_work(session, work)
    assert len(tries) == 2
    session.expire_all()
    stored = session.get(Order, order.id)
    assert (stored.status, stored.card) == ("ready", "N000000999")
    assert session.query(AuditEvent).filter_by(order_id=order.id,
                                               action="cancelled").count() == 0
