"""Order life cycle: allowed moves, audit trail, packing, anonymisation."""

from __future__ import annotations

import datetime as dt

import pytest
from factories import ACTOR, make_order

from kiosk.domain import orders
from kiosk.models import OrderStatus as S


def test_new_order_is_received_with_items_and_audit(session):
    order = make_order(session, items=3, ref="R-1")
    assert order.status == S.RECEIVED and len(order.items) == 3
    assert [e.action for e in order.audit] == ["created"]
    assert order.audit[0].actor == "tester" and order.audit[0].station == "Test station"


def test_duplicate_ref_is_refused(session):
    make_order(session, ref="R-1")
    with pytest.raises(orders.OrderError, match="exists already"):
        make_order(session, ref="R-1")


def test_order_needs_items_without_duplicates(session):
    with pytest.raises(orders.OrderError, match="at least one item"):
        orders.create_order(session, orders.NewOrder("N1", (), "main"), ACTOR)
    twice = (orders.NewItem("1"), orders.NewItem("1"))
    with pytest.raises(orders.OrderError, match="twice"):
        orders.create_order(session, orders.NewOrder("N1", twice, "main"), ACTOR)


@pytest.mark.parametrize("closed", [S.COLLECTED, S.CANCELLED, S.EXPIRED])
@pytest.mark.parametrize("wanted", [S.COLLECTED, S.READY, S.PACKING, S.CANCELLED])
def test_closed_orders_cannot_move(session, station, closed, wanted):
    order = make_order(session, slot="A-01", station=station)
    orders.move(session, order, closed, ACTOR)
    with pytest.raises(orders.OrderError, match="cannot become"):
        orders.move(session, order, wanted, ACTOR)


def test_collect_frees_the_place_and_records_it(session, station):
    order = make_order(session, slot="A-01", station=station)
    orders.collect(session, order, ACTOR, "kiosk")
    session.commit()
    assert order.status == S.COLLECTED and order.place_id is None and order.closed_at
    assert [(e.from_status, e.to_status) for e in order.audit][-1] == ("ready", "collected")


def test_packing_warns_on_wrong_and_duplicate_items(session):
    order = make_order(session, items=2)
    first = order.items[0].barcode
    orders.pack_item(session, order, first, ACTOR)
    assert order.status == S.PACKING
    with pytest.raises(orders.OrderError) as dup:
        orders.pack_item(session, order, first, ACTOR)
    assert dup.value.detail["kind"] == "duplicate_item"
    with pytest.raises(orders.OrderError) as wrong:
        orders.pack_item(session, order, "999", ACTOR)
    assert wrong.value.detail["kind"] == "wrong_item"


def test_missing_item_blocks_packed_unless_overridden(session):
    order = make_order(session, items=2)
    orders.pack_item(session, order, order.items[0].barcode, ACTOR)
    with pytest.raises(orders.OrderError) as missing:
        orders.finish_packing(session, order, ACTOR)
    assert missing.value.detail["missing"] == [order.items[1].barcode]
    orders.finish_packing(session, order, ACTOR, override_reason="damaged, replaced later")
    assert order.packed_at and order.pack_note == "damaged, replaced later"


def test_packed_twice_is_recorded_once(session):
    order = make_order(session, items=1)
    orders.pack_item(session, order, order.items[0].barcode, ACTOR)
    orders.finish_packing(session, order, ACTOR)
    first = order.packed_at
    orders.finish_packing(session, order, ACTOR)  # "Packed" clicked twice
    session.flush()
    assert order.packed_at == first
    session.expire(order, ["audit"])
    assert [e.action for e in order.audit].count("packed") == 1


def test_anonymise_drops_card_of_old_closed_orders_only(session):
    old = make_order(session, card="N100000001", status="cancelled")
    old.closed_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=40)
    fresh = make_order(session, card="N100000002", status="cancelled")
    open_order = make_order(session, card="N100000003")
    session.commit()
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    assert orders.anonymise(session, cutoff) == 1
    session.commit()
    assert old.card is None and old.anonymised_at
    assert fresh.card == "N100000002" and open_order.card == "N100000003"


def test_by_pickup_code_finds_open_orders_only(session):
    order = make_order(session)
    assert orders.by_pickup_code(session, order.pickup_code.replace("-", "").lower()) is order
    orders.cancel(session, order, ACTOR)
    session.commit()
    assert orders.by_pickup_code(session, order.pickup_code) is None


def test_a_rolled_back_transaction_leaves_no_order(session):
    """create_order's savepoint stays inside the session's transaction (SQLite too)."""
    from sqlalchemy import func, select

    from kiosk.models import Order

    before = session.scalar(select(func.count(Order.id)))
    for n in range(3):
        orders.create_order(session, orders.NewOrder(f"N00000000{n}", (orders.NewItem("1"),),
                                                     "main"), ACTOR)
    session.rollback()
    assert session.scalar(select(func.count(Order.id))) == before
