"""Privacy: closed orders lose card and name after the configured days; statistics stay."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from factories import ACTOR, make_order
from sqlalchemy import select

from kiosk.domain import clearance, stats
from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.models import IlsJob, Order, utcnow
from kiosk.staff import jobs

NOW = dt.datetime(2025, 6, 1, 12, tzinfo=dt.UTC)


def closed_order(session, station, how: str, days_ago: float, name="Kari Nordmann") -> Order:
    """Make an order with a patron name, shelve it, close it `how`, days_ago before NOW."""
    order = make_order(session, slot="A-01" if how != "cancelled" else None, station=station)
    order.patron_name = name
    getattr(order_ops, {"collected": "collect", "expired": "expire",
                        "cancelled": "cancel"}[how])(session, order, ACTOR)
    order.closed_at = NOW - dt.timedelta(days=days_ago)
    if order.shelved_at:
        order.shelved_at = order.closed_at - dt.timedelta(hours=5)
    session.commit()
    return order


def test_closed_orders_past_the_limit_lose_card_and_name(session, station):
    old = [closed_order(session, station, how, 31) for how in ("collected", "expired", "cancelled")]
    recent = closed_order(session, station, "collected", 29)
    on_shelf = make_order(session, slot="A-02", station=station)
    on_shelf.patron_name = "Ola"
    session.commit()

    assert clearance.anonymise_closed(session, 30, now=NOW) == 3
    session.commit()

    for order in old:
        assert order.card is None and order.patron_name is None and order.anonymised_at
        assert order.status in ("collected", "expired", "cancelled")
        assert order.pickup_code and order.closed_at  # what statistics need stays
    assert recent.card and recent.patron_name
    assert on_shelf.card and on_shelf.patron_name == "Ola"
    assert clearance.anonymise_closed(session, 30, now=NOW) == 0  # nothing twice


def test_statistics_are_the_same_before_and_after(session, station):
    for days, how in ((40, "collected"), (35, "expired"), (33, "collected"), (3, "collected")):
        closed_order(session, station, how, days)
    start, end = (NOW - dt.timedelta(days=60)).date(), NOW.date()
    before = stats.report(session, start, end, tz=dt.UTC)
    assert clearance.anonymise_closed(session, 30, now=NOW) == 3
    session.commit()
    after = stats.report(session, start, end, tz=dt.UTC)
    assert after.days == before.days and after.weeks == before.weeks
    assert after.totals == {"ready": 4, "collected": 3, "expired": 1}
    assert after.median_to_collect == before.median_to_collect == dt.timedelta(hours=5)
    assert after.uncollected_share == before.uncollected_share == 0.25


def test_finished_checkout_jobs_forget_the_card_too(session, station):
    order = closed_order(session, station, "collected", 31)
    card = order.card
    done = IlsJob(order_id=order.id, card=card, item_barcode="1", state="done")
    queued = IlsJob(order_id=order.id, card=card, item_barcode="2", state="queued")
    session.add_all([done, queued])
    session.commit()
    clearance.anonymise_closed(session, 30, now=NOW)
    session.commit()
    assert done.card == "" and queued.card == card


def test_many_orders_are_done_in_batches(session, station):
    for _ in range(7):
        closed_order(session, station, "cancelled", 50)
    assert clearance.anonymise_closed(session, 30, now=NOW, batch=3) == 7
    left = session.scalars(select(Order).where(Order.card.is_not(None))).all()
    assert left == []


@pytest.mark.parametrize("config_overrides", [{"pickup": {"anonymise_after_days": 0}}])
def test_the_periodic_job_anonymises_by_configuration(app, session, station, config_overrides):
    order = closed_order(session, station, "collected", 0)
    order.closed_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    order_id = order.id
    stop = jobs.start(app, interval_s=3600, first_run_s=0)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            db.session.expire_all()
            if session.get(Order, order_id).card is None:
                break
            time.sleep(0.02)
    finally:
        stop()
    assert session.get(Order, order_id).card is None


def test_run_once_returns_the_count(app, session, station):
    closed_order(session, station, "collected", 400)
    assert jobs.run_once(app) == 1
    assert jobs.run_once(app) == 0
