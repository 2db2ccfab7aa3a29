"""Shelving through the test client: bag then slot, suggestion, move, unshelve, map, collect."""

from __future__ import annotations

import datetime as dt

import pytest
from days import ORDINARY_TUESDAY
from factories import make_order
from staff_helpers import login

from kiosk.models import AuditEvent, Order, OrderStatus

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def config_overrides():
    """Staff pages in English, so the messages asserted below are the source strings."""
    return {"station": {"name": "Test station", "branch": "main", "language": "en"}}


@pytest.fixture
def staff(client, app):
    login(client, app)
    return client


def packed_order(session, **kwargs):
    order = make_order(session, **kwargs)
    order.packed_at = dt.datetime.now(dt.UTC)
    order.status = OrderStatus.PACKING
    session.commit()
    return order


def test_scan_bag_then_slot_label(staff, session):
    order = packed_order(session)
    r = staff.post("/staff/shelving", data={"code": order.pickup_code}, headers=FETCH)
    assert r.json["redirect"].endswith(f"/staff/shelving/{order.id}")
    r = staff.post(f"/staff/shelving/{order.id}", data={"slot": "b 3"}, headers=FETCH)
    assert r.status_code == 200 and r.json["slot"] == "B-03"
    session.refresh(order)
    assert order.status == OrderStatus.READY and order.slot_label == "B-03"
    assert order.deadline is not None and order.deadline > dt.date.today()
    event = session.query(AuditEvent).filter_by(order_id=order.id, action="shelved").one()
    assert (event.actor, event.station, event.to_status) == ("kari", "Test station", "ready")


def test_suggested_slot_is_offered_and_accepted(staff, session, station):
    sibling = make_order(session, slot="A-04", station=station)
    order = packed_order(session, card=sibling.card)
    html = staff.get(f"/staff/shelving/{order.id}").get_data(as_text=True)
    assert 'name="slot" value="A-04"' in html  # beside the patron's other bag
    r = staff.post(f"/staff/shelving/{order.id}", data={"slot": "A-04"}, follow_redirects=True)
    assert f"Bag {order.pickup_code} is on A-04" in r.get_data(as_text=True)


def test_unpacked_order_is_not_shelved_from_the_staff_pages(staff, session):
    order = make_order(session)
    r = staff.post(f"/staff/shelving/{order.id}", data={"slot": "A-01"}, headers=FETCH)
    assert r.status_code == 409 and "not packed" in r.json["message"]
    session.refresh(order)
    assert order.place_id is None


def test_full_slot_is_refused_with_a_clear_message(staff, session, station):
    for _ in range(2):  # A-slots hold 2 bags in the test configuration
        make_order(session, slot="A-02", station=station)
    order = packed_order(session)
    r = staff.post(f"/staff/shelving/{order.id}", data={"slot": "A-02"}, headers=FETCH)
    assert r.status_code == 409 and r.json["message"] == "Slot A-02 is full"
    r = staff.post(f"/staff/shelving/{order.id}", data={"slot": "A-02"}, follow_redirects=True)
    assert "Slot A-02 is full" in r.get_data(as_text=True)
    session.refresh(order)
    assert order.status == OrderStatus.PACKING and order.place_id is None


def test_unknown_slot_and_bag_label_in_place_of_slot(staff, session):
    order = packed_order(session)
    r = staff.post(f"/staff/shelving/{order.id}", data={"slot": "Q-77"}, headers=FETCH)
    assert r.status_code == 404 and "Q-77" in r.json["message"]
    r = staff.post(f"/staff/shelving/{order.id}", data={"slot": order.pickup_code},
                   headers=FETCH)
    assert r.status_code == 400 and "bag label" in r.json["message"]
    r = staff.post("/staff/shelving", data={"code": "not a code"}, headers=FETCH)
    assert r.status_code == 404


def test_move_and_unshelve(staff, session, station):
    order = make_order(session, slot="A-01", station=station)
    r = staff.post(f"/staff/shelving/{order.id}", data={"slot": "B-01"}, headers=FETCH)
    assert "moved from A-01 to B-01" in r.json["message"]
    r = staff.post(f"/staff/orders/{order.id}/unshelve", follow_redirects=True)
    assert "taken off B-01" in r.get_data(as_text=True)
    session.refresh(order)
    assert order.status == OrderStatus.PACKING and order.place_id is None
    r = staff.post(f"/staff/orders/{order.id}/unshelve", headers=FETCH)
    assert r.status_code == 409 and "not on a shelf" in r.json["message"]


@pytest.mark.time_machine(ORDINARY_TUESDAY)
def test_shelf_map_shows_occupancy_age_and_deadline_colours(staff, session, station):
    today = dt.date(2026, 12, 8)  # an open Tuesday: a bag due today is fetched today
    expired = make_order(session, slot="A-01", station=station)
    due = make_order(session, slot="A-01", station=station)
    fresh = make_order(session, slot="B-02", station=station)
    expired.deadline = today - dt.timedelta(days=10)
    due.deadline = today
    expired.shelved_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=9)
    session.commit()
    html = staff.get("/staff/shelves").get_data(as_text=True)
    assert html.count('class="slot ') == 10  # 6 A-slots + 4 B-slots
    assert 'class="slot slot-expired" data-slot="A-01"' in html
    assert 'class="slot slot-used" data-slot="B-02"' in html
    assert 'class="slot slot-free" data-slot="A-03"' in html
    assert '<span class="occupancy">2/2</span>' in html
    assert "9 d" in html
    for order, cls in ((expired, "bag-expired"), (due, "bag-today"), (fresh, "bag-ok")):
        assert f'class="bag {cls}"><a href="/staff/orders/{order.id}">{order.pickup_code}' in html


def test_order_detail_shows_the_audit_trail(staff, session, station):
    order = make_order(session, slot="A-03", station=station)
    staff.post(f"/staff/orders/{order.id}/collect")
    html = staff.get(f"/staff/orders/{order.id}").get_data(as_text=True)
    for action in ("Order created", "Put on a slot", "Collected"):
        assert f"<td>{action}</td>" in html
    assert '<td translate="no">kari</td><td translate="no">Test station</td>' in html
    assert "ready → collected" in html and "received → received" not in html


def test_collect_by_scan_frees_the_slot(staff, session, station):
    order = make_order(session, slot="A-05", station=station)
    r = staff.post("/staff/collect", data={"code": order.pickup_code}, headers=FETCH)
    assert r.json["ok"] and "A-05 freed" in r.json["message"]
    session.refresh(order)
    assert order.status == OrderStatus.COLLECTED and order.place_id is None


def test_collecting_a_cancelled_or_unshelved_order_is_refused(staff, session, station):
    cancelled = make_order(session, status=OrderStatus.CANCELLED)
    r = staff.post(f"/staff/orders/{cancelled.id}/collect", headers=FETCH)
    assert r.status_code == 409
    assert r.json["message"] == (f"Order {cancelled.pickup_code} is cancelled and cannot be "
                                 "collected.")
    r = staff.post(f"/staff/orders/{cancelled.id}/collect", follow_redirects=True)
    assert "cannot be collected" in r.get_data(as_text=True)
    waiting = make_order(session)
    r = staff.post("/staff/collect", data={"code": waiting.pickup_code}, headers=FETCH)
    assert r.status_code == 409 and "not on a shelf" in r.json["message"]
    session.refresh(cancelled)
    session.refresh(waiting)
    assert (cancelled.status, waiting.status) == ("cancelled", "received")


def test_cancel_and_new_order_by_hand(staff, session):
    r = staff.post("/staff/orders/new", data={"card": "n000000777",
                                              "items": "111;Snømannen\n222\n"})
    assert r.status_code == 303
    order_id = int(r.location.rsplit("/", 1)[1])
    html = staff.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    assert "Snømannen" in html and "staff" in html
    r = staff.post("/staff/orders/new", data={"card": "123", "items": "111"})
    assert r.status_code == 422 and "not a valid patron card" in r.get_data(as_text=True)
    r = staff.post("/staff/orders/new", data={"card": "N000000777", "items": "1\n1"})
    assert r.status_code == 422 and "twice" in r.get_data(as_text=True)
    r = staff.post(f"/staff/orders/{order_id}/cancel", data={"confirm": "yes"},
                   headers=FETCH)
    assert r.json["ok"]
    r = staff.post(f"/staff/orders/{order_id}/cancel", data={"confirm": "yes"},
                   headers=FETCH)
    assert r.status_code == 409 and "cannot become cancelled" in r.json["message"]


def test_orders_list_search_and_filter(staff, session, station):
    ready = make_order(session, slot="A-06", station=station, ref="R-1")
    waiting = make_order(session)
    html = staff.get("/staff/orders?status=ready").get_data(as_text=True)
    assert ready.pickup_code in html and waiting.pickup_code not in html
    html = staff.get(f"/staff/orders?q={waiting.pickup_code.lower()}").get_data(as_text=True)
    assert waiting.pickup_code in html and ready.pickup_code not in html
    html = staff.get("/staff/orders?q=R-1").get_data(as_text=True)
    assert ready.pickup_code in html


def test_an_item_barcode_is_no_bag_label_without_holds_from_the_ils(staff, session):
    page = staff.get("/staff/shelving").get_data(as_text=True)
    assert "or an item barcode" not in page
    r = staff.post("/staff/shelving", data={"code": "03019999991"}, headers=FETCH)
    assert r.status_code == 404 and "No open order" in r.json["message"]
    assert session.query(Order).count() == 0  # no item bag started


def test_an_order_bag_takes_no_items_in_place_of_its_slot(staff, session):
    order = packed_order(session)
    r = staff.post(f"/staff/shelving/{order.id}", data={"slot": "03019999992"}, headers=FETCH)
    assert r.status_code == 404
    session.refresh(order)
    assert len(order.items) == 2 and order.place_id is None


def test_a_last_day_on_a_closed_day_moves_to_the_next_open_day(session, station):
    from kiosk.staff.common import deadline_state

    order = make_order(session, slot="A-02", station=station)
    order.deadline = dt.date(2026, 12, 25)  # Christmas Day, then 26th, then a Sunday: closed
    assert deadline_state(order, today=dt.date(2026, 12, 26)) == "ok"
    assert deadline_state(order, today=dt.date(2026, 12, 28)) == "today"
    assert deadline_state(order, today=dt.date(2026, 12, 29)) == "expired"
