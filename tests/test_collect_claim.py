"""A collect that lends holds the order until it ends: a cancel or clearance meanwhile is a
409, never a winner over a collect whose items are already lent (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.error
import urllib.request

import pytest
import time_machine
from factories import ACTOR, make_order
from helpers_sip2 import PATRON_CARD, ils_config

from kiosk import clock
from kiosk.domain import clearance, order_writes
from kiosk.domain import orders as order_ops
from kiosk.models import AuditEvent, IlsJob, Order

TOKEN = "claim-token-0123456789abcdefghij"


def test_a_claimed_order_refuses_every_other_change_until_the_collect_ends(session, station):
    order = make_order(session, card=PATRON_CARD, slot="A-01", station=station)
    order_writes.start_collecting(order)
    session.commit()
    for change in (lambda: order_ops.cancel(session, order, ACTOR),
                   lambda: order_ops.expire(session, order, ACTOR),
                   lambda: order_writes.start_collecting(order)):
        with pytest.raises(order_ops.OrderError) as refused:
            change()
        assert refused.value.detail["kind"] == "being_collected"
        assert refused.value.status_code == 409
    order_writes.end_collecting(order)
    order_ops.collect(session, order, ACTOR)
    session.commit()
    assert order.status == "collected" and order.collecting_since is None


def test_a_claim_a_dead_station_left_lets_go_after_a_few_minutes(session, station):
    order = make_order(session, slot="A-02", station=station)
    with time_machine.travel(clock.now(), tick=False) as moment:
        order_writes.start_collecting(order)
        session.commit()
        assert order_ops.being_collected(order)
        moment.shift(order_ops.COLLECTING_FOR.total_seconds() - 1)
        assert order_ops.being_collected(session.get(Order, order.id))
        moment.shift(2)
        order_ops.cancel(session, order, ACTOR)
        session.commit()
    assert order.status == "cancelled"


def test_an_order_that_cannot_be_collected_is_refused_before_anything_is_lent(session):
    order = make_order(session)  # received: not on a shelf
    with pytest.raises(order_ops.OrderError) as refused:
        order_writes.start_collecting(order)
    assert refused.value.detail == {"status": "received", "wanted": "collected"}
    assert order.collecting_since is None


@pytest.fixture
def config_overrides(proxy, tmp_path):
    tokens = tmp_path / "api-tokens"
    tokens.write_text(TOKEN + "\n")
    return {"ils": ils_config(proxy.port, tmp_path, timeout_s=10),
            "api": {"tokens_file": str(tokens)}}


def api(base: str, path: str) -> tuple[int, dict]:
    request = urllib.request.Request(base + path, data=b"{}", method="POST", headers={
        "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


@pytest.mark.parametrize("then", ["cancel", "clear"])
def test_a_cancel_or_clearance_while_the_items_are_being_lent_loses(live_server, session,
                                                                       station, proxy, then):
    """Before the claim, the cancel landed between the checkouts and the collect's end: the
    order ended cancelled with its items lent, and the collect answered 409."""
    order = make_order(session, card=PATRON_CARD, slot="A-03", station=station, items=2)
    order_id, code = order.id, order.pickup_code
    proxy.hold_answer = "12"  # the first checkout's answer waits until the other change ran
    collected: dict = {}

    def collect() -> None:
        collected["status"], collected["body"] = api(live_server,
                                                     f"/api/v1/orders/{order_id}/collect")

    worker = threading.Thread(target=collect)
    worker.start()
    try:
        assert proxy.held.wait(20), "the collect never reached the library system"
        if then == "cancel":
            status, body = api(live_server, f"/api/v1/orders/{order_id}/cancel")
            assert (status, body["detail"]["kind"]) == (409, "being_collected")
        else:
            session.expire_all()
            with pytest.raises(order_ops.OrderError) as refused:
                clearance.clear_bag(session, code, ACTOR, station.calendar,
                                    today=clock.today() + dt.timedelta(days=60))
            assert refused.value.detail["kind"] == "being_collected"
            session.rollback()
    finally:
        proxy.release.set()
        worker.join(30)
    assert collected["status"] == 200, collected
    assert [i["state"] for i in collected["body"]["pickup"]["items"]] == ["lent", "lent"]
    session.expire_all()
    order = session.get(Order, order.id)
    assert (order.status, order.collecting_since) == ("collected", None)
    actions = [e.action for e in session.query(AuditEvent).filter_by(order_id=order.id)]
    assert actions.count("collected") == 1 and "cancelled" not in actions
    assert "expired" not in actions
    assert session.query(IlsJob).filter_by(order_id=order.id).count() == 2
