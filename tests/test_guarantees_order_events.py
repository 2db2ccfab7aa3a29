"""The order-change listeners' guarantees: each listener once, every change described in full,
in the session of the change; an import listener's error never fails a landed import.

Found by mutation testing (scripts/mutation.sh domain/order_events.py, docs/testing.md).
The module's lists of listeners are swapped for empty ones in each test (monkeypatch), so
the app's own outbox listener and these tests' listeners never meet.
"""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from factories import ACTOR, make_order

from kiosk.domain import order_events
from kiosk.domain import orders as order_ops
from kiosk.domain.order_events import OrderChange


@pytest.fixture
def heard(monkeypatch):
    monkeypatch.setattr(order_events, "_listeners", [])
    monkeypatch.setattr(order_events, "_import_listeners", [])
    got: list[tuple[object, list[OrderChange]]] = []

    def listener(session, changes):
        got.append((session, list(changes)))

    return got, listener


def test_a_listener_subscribed_twice_hears_each_change_once(session, heard):
    got, listener = heard
    assert not order_events.listening()
    order_events.subscribe(listener)
    order_events.subscribe(listener)
    assert order_events.listening()
    order = make_order(session, card="N400000061")
    assert [(s, [c.order_id for c in changes]) for s, changes in got] == [
        (session, [order.id])]


def test_no_listener_is_told_of_an_empty_batch(session, heard):
    got, listener = heard
    order_events.subscribe(listener)
    order_events.changed(session, [])
    assert got == []


def test_without_listeners_nothing_is_described(session, heard, monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("a change was described with nobody listening")

    monkeypatch.setattr(OrderChange, "of", fail)
    make_order(session)  # created, with no listener: no description is made


def test_a_change_is_described_in_full(session, station, heard):
    got, listener = heard
    order_events.subscribe(listener)
    before = dt.datetime.now(dt.UTC)
    order = make_order(session, card="N400000062", ref="EV-1", slot="A-01", station=station)
    received, ready = (changes[0] for _, changes in got)
    assert (received.status, received.previous, received.slot) == ("received", None, None)
    assert ready == OrderChange(
        order_id=order.id, status="ready", previous="received", ref="EV-1", branch="main",
        pickup_code=order.pickup_code, slot="A-01", last_day=order.deadline,
        station=ACTOR.station, card="N400000062", patron_name=order.patron_name, at=ready.at)
    assert ready.last_day is not None and before <= ready.at <= dt.datetime.now(dt.UTC)
    named = make_order(session, ref="EV-2")
    named.patron_name = "Åse Ødegård"
    order_ops.cancel(session, named, ACTOR)
    cancelled = got[-1][1][0]
    assert (cancelled.ref, cancelled.status, cancelled.previous, cancelled.patron_name) == (
        "EV-2", "cancelled", "received", "Åse Ødegård")


def test_a_listeners_error_fails_the_change(session, heard):
    def broken(session, changes):
        raise RuntimeError("the outbox is full")

    order_events.subscribe(broken)
    with pytest.raises(RuntimeError):
        make_order(session)
    session.rollback()


def test_an_import_listeners_error_is_logged_and_the_others_still_hear(heard, caplog):
    counted: list[tuple[int, float]] = []

    def broken(orders, seconds):
        raise RuntimeError("the counter broke")

    order_events.subscribe_imports(broken)
    order_events.subscribe_imports(lambda orders, seconds: counted.append((orders, seconds)))
    order_events.subscribe_imports(broken)  # once is enough
    with caplog.at_level(logging.ERROR, logger="kiosk.domain.order_events"):
        order_events.imported(3, 0.25)
    assert counted == [(3, 0.25)]
    assert [r.getMessage() for r in caplog.records] == ["import listener failed"]
