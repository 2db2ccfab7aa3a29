"""Packing through the test client: pick list, open by scan, items, packed, bag label."""

from __future__ import annotations

import pytest
from factories import make_order
from staff_helpers import login

from kiosk.models import AuditEvent, OrderStatus

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def staff(client, app):
    login(client, app)
    return client


def test_pick_list_shows_orders_to_pack_in_walking_order(staff, session):
    later = make_order(session, items=1)
    earlier = make_order(session, items=1)
    earlier.items[0].barcode = "0000000001"
    session.commit()
    html = staff.get("/staff/packing").get_data(as_text=True)
    assert html.index(earlier.pickup_code) < html.index(later.pickup_code)


def test_shelved_and_other_branch_orders_are_not_on_the_pick_list(staff, session, station):
    on_shelf = make_order(session, slot="A-01", station=station)
    elsewhere = make_order(session, branch="other")
    waiting = make_order(session)
    html = staff.get("/staff/packing").get_data(as_text=True)
    assert waiting.pickup_code in html
    assert on_shelf.pickup_code not in html
    assert elsewhere.pickup_code not in html


def test_open_by_pickup_code_or_card(staff, session):
    order = make_order(session)
    r = staff.post("/staff/packing/open", data={"code": order.pickup_code.replace("-", "")})
    assert r.status_code == 303 and r.location.endswith(f"/staff/packing/{order.id}")
    r = staff.post("/staff/packing/open", data={"code": order.card.lower()})
    assert r.location.endswith(f"/staff/packing/{order.id}")
    second = make_order(session, card=order.card)
    r = staff.post("/staff/packing/open", data={"code": order.card}, headers=FETCH)
    assert r.json["redirect"].endswith(f"/staff/packing?card={order.card}")
    html = staff.get(r.json["redirect"]).get_data(as_text=True)
    assert order.pickup_code in html and second.pickup_code in html


def test_open_unknown_code_is_a_clear_404(staff):
    r = staff.post("/staff/packing/open", data={"code": "ZZ-999"}, headers=FETCH)
    assert r.status_code == 404
    assert r.json["ok"] is False and "ZZ-999" in r.json["message"]


def test_scan_items_wrong_and_duplicate_warn(staff, session):
    order = make_order(session, items=2)
    good, other = order.items[0].barcode, order.items[1].barcode
    url = f"/staff/packing/{order.id}/item"
    r = staff.post(url, data={"code": good}, headers=FETCH)
    assert r.status_code == 200 and r.json == {**r.json, "ok": True, "left": 1, "barcode": good}
    r = staff.post(url, data={"code": good}, headers=FETCH)
    assert r.status_code == 409 and r.json["kind"] == "duplicate_item"
    assert "ALREADY PACKED" in r.json["message"]
    r = staff.post(url, data={"code": "9999999999"}, headers=FETCH)
    assert r.status_code == 409 and r.json["kind"] == "wrong_item"
    assert "WRONG ITEM" in r.json["message"]
    session.refresh(order)
    assert order.status == OrderStatus.PACKING
    assert [i.barcode for i in order.items if i.packed_at] == [good]
    assert other not in [i.barcode for i in order.items if i.packed_at]


def test_wrong_item_without_script_flashes_red(staff, session):
    order = make_order(session, items=1)
    r = staff.post(f"/staff/packing/{order.id}/item", data={"code": "nope"},
                   follow_redirects=True)
    assert 'class="flash flash-error"' in r.get_data(as_text=True)
    assert "WRONG ITEM" in r.get_data(as_text=True)


def test_packed_is_blocked_by_missing_items_unless_a_reason_is_given(staff, session):
    order = make_order(session, items=2)
    staff.post(f"/staff/packing/{order.id}/item", data={"code": order.items[0].barcode})
    r = staff.post(f"/staff/packing/{order.id}/packed", data={}, headers=FETCH)
    assert r.status_code == 409 and r.json["missing"] == [order.items[1].barcode]
    session.refresh(order)
    assert order.packed_at is None
    r = staff.post(f"/staff/packing/{order.id}/packed",
                   data={"override_reason": "item lost, patron told"}, headers=FETCH)
    assert r.status_code == 200 and r.json["ok"]
    session.refresh(order)
    assert order.packed_at is not None and order.pack_note == "item lost, patron told"
    events = session.query(AuditEvent).filter_by(order_id=order.id, action="packed").all()
    assert events[0].actor == "kari" and "item lost" in events[0].detail


@pytest.mark.parametrize("note", ["lost\u202e", "lost\x00", "lost\u200b", "\x1b[31mlost"])
def test_a_packing_note_with_hidden_characters_is_refused_and_nothing_changes(staff, session,
                                                                             note):
    order = make_order(session, items=2)
    staff.post(f"/staff/packing/{order.id}/item", data={"code": order.items[0].barcode})
    r = staff.post(f"/staff/packing/{order.id}/packed", data={"override_reason": note},
                   headers=FETCH)
    assert r.status_code == 400 and r.json["kind"] == "bad_text"
    assert "control, invisible or direction-changing character" in r.json["message"]
    session.refresh(order)
    assert order.packed_at is None and order.pack_note is None


def test_all_items_scanned_then_packed(staff, session):
    order = make_order(session, items=2)
    for item in order.items:
        staff.post(f"/staff/packing/{order.id}/item", data={"code": item.barcode})
    r = staff.post(f"/staff/packing/{order.id}/packed", follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "is packed" in html and "Print bag label" in html
    session.refresh(order)
    assert order.packed_at is not None and order.pack_note is None


def test_bag_label_has_code_barcode_and_qr_sized_for_a_label_printer(staff, session):
    order = make_order(session)
    html = staff.get(f"/staff/orders/{order.id}/label").get_data(as_text=True)
    assert "css/label.css" in html
    with staff.get("/static/css/label.css") as css:  # the page's own sheet, not inline
        assert "@page { size: 62mm" in css.get_data(as_text=True)
    assert html.count("<svg") == 2
    assert f'<div class="code" translate="no">{order.pickup_code}</div>' in html
    assert order.card not in html  # pseudonymous: no card, no name on the bag


def test_other_branch_order_is_not_found(staff, session):
    order = make_order(session, branch="other")
    assert staff.get(f"/staff/packing/{order.id}").status_code == 404
    assert staff.get("/staff/packing/99999").status_code == 404


def test_bag_label_on_the_escpos_printer(staff, session, station, tmp_path):
    from kiosk.devices.printer import SlipPrinter

    order = make_order(session, items=1)
    staff.post(f"/staff/packing/{order.id}/item", data={"code": order.items[0].barcode})
    staff.post(f"/staff/packing/{order.id}/packed")
    r = staff.post(f"/staff/orders/{order.id}/label/print", headers=FETCH)
    assert r.status_code == 409 and "No receipt printer" in r.json["message"]
    device = tmp_path / "lp0"
    section = {"kind": "file", "path": str(device), "host": "", "port": 9100, "baudrate": 9600,
               "vendor_id": 0, "product_id": 0, "profile": "default", "auto_print": False,
               "timeout_s": 2.0}
    station.printer = SlipPrinter(section, station.name)
    try:
        assert "receipt printer" in staff.get(f"/staff/packing/{order.id}").get_data(
            as_text=True)
        r = staff.post(f"/staff/orders/{order.id}/label/print", headers=FETCH)
        assert r.status_code == 200 and r.json["ok"]
        data = device.read_bytes()
        assert order.pickup_code.encode() in data and b"\x1dk" in data  # GS k: a barcode
        station.printer.section["path"] = str(tmp_path / "missing" / "lp0")
        r = staff.post(f"/staff/orders/{order.id}/label/print", headers=FETCH)
        assert r.status_code == 503 and "Not printed" in r.json["message"]
    finally:
        station.printer.close()
        station.printer = None
