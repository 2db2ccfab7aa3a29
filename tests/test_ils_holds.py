"""Holds looked up over SIP2 at scan time (issue 8), against pysip2 as the library system.

Covers the scan-time hook (slots of waiting holds, ask at the desk, another branch,
the ILS down), shelving by item on the staff pages, items no longer waiting on the
clearance list, and reconciliation on demand and on a timer.
"""

from __future__ import annotations

import logging
import time
from collections import Counter

import pytest
from factories import make_order
from helpers_sip2 import FakeLibrary, Hold, Patron, SipServer, ils_config
from pysip2 import ITEM_INFORMATION, ItemInformationResponse
from staff_helpers import login

from kiosk.domain import audit as audit_text
from kiosk.ils import sip2
from kiosk.ils.holds import here
from kiosk.ils.link import patron_info
from kiosk.ils.reconcile import NOT_WAITING, reconcile
from kiosk.models import AuditEvent, IlsJob, Order

CARD = "N000000001"
FETCH = {"X-Requested-With": "fetch"}


def _item_information(lib: FakeLibrary):
    """Answer 17 as an ILS would: 08 (on the hold shelf) for an item some patron waits for."""

    def handler(req, ctx) -> ItemInformationResponse:
        waiting = any(req.item_identifier in p.holds for p in lib.patrons.values())
        lib.item_requests.append(req.item_identifier)
        return ItemInformationResponse(
            circulation_status="08" if waiting else "03", security_marker="00",
            fee_type="01", transaction_date=ctx.now_18(),
            item_identifier=req.item_identifier, title_identifier="Bok")

    return handler


@pytest.fixture
def ils():
    lib = FakeLibrary()
    lib.patrons[CARD] = Patron()
    lib.item_requests = []
    lib.server.route(ITEM_INFORMATION)(_item_information(lib))
    # Shelving checks items in (holds_from_ils): here every item is on hold at this
    # station, and the 10 answer names no patron (some systems do not send CY), so bags
    # learn their card at the first scan as before. tests/test_ils_checkin.py covers CY.
    lib.default_hold = Hold(card="", name="")
    server = SipServer(lib).start()
    yield lib, server
    server.stop()


@pytest.fixture
def show_names() -> bool:
    return False


@pytest.fixture
def config_overrides(ils, tmp_path, show_names):
    return {"ils": ils_config(ils[1].port, tmp_path, holds_from_ils=True),
            "kiosk": {"rate_limit": "off", "show_names": show_names},
            "station": {"name": "Test station", "branch": "main", "language": "en"}}


@pytest.fixture
def staff(client, app):
    login(client, app)
    return client


def scan(client, card=CARD):
    return client.post("/kiosk/scan", json={"code": card}).get_json()


def shelve_items(staff, barcodes: list[str], slot: str) -> int:
    """Shelve an item bag through the staff pages; return its order id."""
    r = staff.post("/staff/shelving", data={"code": barcodes[0]}, headers=FETCH)
    assert r.status_code == 200 and r.json["ok"], r.json
    order_id = int(r.json["redirect"].rsplit("/", 1)[1])
    for barcode in barcodes[1:]:
        r = staff.post(f"/staff/shelving/{order_id}", data={"slot": barcode}, headers=FETCH)
        assert r.status_code == 200 and r.json["ok"], r.json
    r = staff.post(f"/staff/shelving/{order_id}", data={"slot": slot}, headers=FETCH)
    assert r.status_code == 200 and r.json["slot"] == slot, r.json
    return order_id


# --- the scan ----------------------------------------------------------------------------

def test_waiting_holds_show_the_slots_that_hold_them(client, session, station, ils):
    lib, _ = ils
    # an order of another card: the ILS's list of the patron's waiting holds rules
    shelved = make_order(session, card="N000000777", items=2, slot="B-03", station=station)
    lib.patrons[CARD].holds = [shelved.items[0].barcode]
    body = scan(client)
    assert body["outcome"] == "ready" and [p["slot"] for p in body["pickups"]] == ["B-03"]
    assert body["notices"] == [] and body["name"] is None  # the ILS's name stays off
    assert lib.patron_requests[-1].summary == "Y" + " " * 9
    response = client.post("/kiosk/collect",
                           json={"event_id": body["event_id"], "order_id": shelved.id})
    assert response.get_json()["collected"]
    assert set(lib.loans) == {i.barcode for i in shelved.items}


@pytest.mark.parametrize("show_names", [False, True])
def test_the_ils_name_reaches_the_screen_only_with_show_names(client, ils, show_names):
    lib, _ = ils
    lib.patrons[CARD].holds = ["0399999999"]
    body = scan(client)
    assert body["name"] == ("Åse Ødegård" if show_names else None)
    html = client.get("/").get_data(as_text=True)
    assert "Ødegård" not in html


def test_a_hold_waiting_but_on_no_slot_says_ask_at_the_desk(client, session, station, ils):
    lib, _ = ils
    lib.patrons[CARD].holds = ["0399999999"]
    body = scan(client)
    assert body["outcome"] == "waiting" and body["notices"] == ["ask_at_desk"]


def test_imported_orders_keep_working_beside_the_ils(client, session, station, ils):
    make_order(session, card=CARD, slot="A-02", station=station)
    body = scan(client)
    assert [p["slot"] for p in body["pickups"]] == ["A-02"] and body["notices"] == []


def test_hold_shelved_at_another_branch_is_not_shown_here(client, session, station, ils):
    lib, _ = ils
    elsewhere = make_order(session, card=CARD, branch="other", status="ready")
    lib.patrons[CARD].holds = [elsewhere.items[0].barcode]
    body = scan(client)
    assert body["pickups"] == [] and body["notices"] == ["ask_at_desk"]


def test_pickup_location_of_another_branch_is_left_out():
    frame = sip2.encode("64", [" " * 14, "000", sip2.sip_datetime()] + ["0001"] + ["0000"] * 5,
                        [("AO", "lib"), ("AA", CARD), ("AE", ""), ("AS", "0301"),
                         ("BS", "bekkestua")], sequence=1, encoding="utf-8")
    info = patron_info(sip2.decode(frame, encoding="utf-8"))
    assert info.hold_items == ["0301"]
    assert not here(info, ["sandvika"]) and here(info, ["sandvika", "bekkestua"])


# --- shelving by item -------------------------------------------------------------------

def test_shelve_by_item_then_scan_shows_the_slot_and_collect_lends(staff, client, session,
                                                                    station, ils):
    lib, _ = ils
    order_id = shelve_items(staff, ["03011111111", "03011111112"], "B-02")
    order = session.get(Order, order_id)
    assert (order.source, order.card, order.status) == ("ils", None, "ready")
    assert [i.barcode for i in order.items] == ["03011111111", "03011111112"]
    lib.patrons[CARD].holds = ["03011111111", "03011111112"]
    body = scan(client)
    assert body["outcome"] == "ready" and body["notices"] == []
    assert [(p["slot"], p["items"]) for p in body["pickups"]] == [("B-02", 2)]
    session.expire_all()
    assert session.get(Order, order_id).card == CARD  # learned from the ILS
    r = client.post("/kiosk/collect", json={"event_id": body["event_id"], "order_id": order_id})
    assert r.status_code == 200 and r.get_json()["collected"], r.get_json()
    assert lib.loans == {"03011111111": CARD, "03011111112": CARD}
    session.expire_all()
    assert session.get(Order, order_id).status == "collected"


def test_item_bag_groups_items_and_refuses_doubles(staff, session, station, ils):
    html = staff.get("/staff/shelving").get_data(as_text=True)
    assert "or an item barcode" in html
    r = staff.post("/staff/shelving", data={"code": "03012222221"}, headers=FETCH)
    order_id = int(r.json["redirect"].rsplit("/", 1)[1])
    assert "new bag" in r.json["message"]
    here_url = f"/staff/shelving/{order_id}"
    r = staff.post(here_url, data={"slot": "03012222222"}, headers=FETCH)
    assert r.json["items"] == 2 and "added to bag" in r.json["message"]
    r = staff.post(here_url, data={"slot": "03012222222"}, headers=FETCH)
    assert r.status_code == 409 and "already in this bag" in r.json["message"]
    page = staff.get(here_url).get_data(as_text=True)
    assert 'data-item="03012222221"' in page and 'data-item="03012222222"' in page
    # a second bag may not take an item of the first; scanning it opens the first bag
    r = staff.post("/staff/shelving", data={"code": "03012222222"}, headers=FETCH)
    assert r.json["redirect"].endswith(here_url) and "is in bag" in r.json["message"]
    other = staff.post("/staff/shelving", data={"code": "03012222223"}, headers=FETCH)
    other_id = int(other.json["redirect"].rsplit("/", 1)[1])
    r = staff.post(f"/staff/shelving/{other_id}", data={"slot": "03012222221"}, headers=FETCH)
    assert r.status_code == 409 and "already in bag" in r.json["message"]
    # nonsense is neither a bag label nor an item; an unknown slot stays an error
    r = staff.post("/staff/shelving", data={"code": "x y"}, headers=FETCH)
    assert r.status_code == 400 and "Neither" in r.json["message"]
    r = staff.post(here_url, data={"slot": "Q-77"}, headers=FETCH)
    assert r.status_code == 404
    assert session.query(Order).filter_by(source="ils").count() == 2
    actions = [e.action for e in session.query(AuditEvent).filter_by(order_id=order_id)]
    assert actions[:2] == ["created", "packing"] and "item_added" in actions


# --- staff collect a bag whose owner the ILS has not named -----------------------------

MASKED = "*******001"  # kiosk.domain.cards.mask(CARD)


def audit(session, order_id: int) -> list[tuple[str, str]]:
    return [(e.action, audit_text.render(e.detail)) for e in session.query(AuditEvent)
            .filter_by(order_id=order_id).order_by(AuditEvent.id)]


def nothing_changed(session, lib, order_id: int, slot: str, events: list) -> None:
    """The bag is still on its slot with no card, nothing lent, no checkout queued."""
    session.expire_all()
    order = session.get(Order, order_id)
    assert (order.status, order.slot_label, order.card) == ("ready", slot, None)
    assert all(i.lent_at is None for i in order.items)
    assert not lib.checkouts and not lib.loans
    assert session.query(IlsJob).filter_by(kind="checkout").count() == 0
    assert audit(session, order_id) == events


def collect_url(order: Order, where: str) -> tuple[str, dict]:
    """The desk's collect scan or the order page's button: url and form data."""
    if where == "desk":
        return "/staff/collect", {"code": order.pickup_code}
    return f"/staff/orders/{order.id}/collect", {}


def bag_without_owner(staff, session, barcodes: list[str], slot: str, where: str):
    """Shelve an item bag the ILS has named no owner for; return it, its collect url and
    form data, and its audit trail so far."""
    order_id = shelve_items(staff, barcodes, slot)
    order = session.get(Order, order_id)
    url, data = collect_url(order, where)
    return order_id, order, url, data, audit(session, order_id)


BOTH = pytest.mark.parametrize("where", ["desk", "order page"])


def test_desk_scan_asks_for_the_card_then_lends_every_item_to_it_once(staff, session, station,
                                                                      ils, caplog):
    lib, _ = ils
    order_id = shelve_items(staff, ["03016666661", "03016666662"], "B-02")
    code = session.get(Order, order_id).pickup_code
    r = staff.post("/staff/collect", data={"code": code}, headers=FETCH)
    body = r.get_json()
    assert r.status_code == 409 and not body["ok"] and body["need_card"], body
    assert body["redirect"] == f"/staff/collect?bag={code}"  # the page that asks for the card
    page = staff.get(body["redirect"]).get_data(as_text=True)
    assert 'id="need-card"' in page and f"Bag {code} on slot B-02 has no patron card" in page
    assert 'name="card"' in page and f'name="code" type="hidden" value="{code}"' in page
    assert not lib.checkouts
    caplog.set_level(logging.INFO)
    r = staff.post("/staff/collect", data={"code": code, "card": " n000000001\n"}, headers=FETCH)
    body = r.get_json()
    assert r.status_code == 200 and body["ok"], body
    assert body["message"] == f"Order {code} collected; slot B-02 freed."
    assert body["redirect"] == "/staff/collect"  # back to scanning the next bag
    assert lib.loans == {"03016666661": CARD, "03016666662": CARD}
    assert lib.checkouts == Counter({"03016666661": 1, "03016666662": 1})
    session.expire_all()
    order = session.get(Order, order_id)
    assert (order.status, order.card) == ("collected", CARD)
    assert all(i.lent_at and i.due_date == "2031-01-15" for i in order.items)
    events = audit(session, order_id)
    assert events[-2] == ("card_given",
                          f"Patron card {MASKED} given by staff to lend the items")
    assert events[-1] == ("collected", f"Staff scan, patron card {MASKED} given at the desk; "
                                       "2 items lent")
    assert all(CARD not in detail for _action, detail in events)
    collected = session.query(AuditEvent).filter_by(order_id=order_id, action="collected").one()
    assert collected.actor == "kari"
    assert f"staff kari collecting order {order_id} with card {MASKED}" in caplog.text
    assert CARD not in caplog.text
    # the same scans again lend nothing twice
    r = staff.post("/staff/collect", data={"code": code, "card": CARD}, headers=FETCH)
    assert r.status_code == 404
    assert lib.checkouts == Counter({"03016666661": 1, "03016666662": 1})


def test_order_page_asks_for_the_card_and_lends_to_it(staff, session, station, ils):
    lib, _ = ils
    order_id = shelve_items(staff, ["03017777771", "03017777772"], "B-03")
    page = staff.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    assert 'id="collect-with-card"' in page and 'name="card"' in page
    assert "(not known yet)" in page and "(anonymised)" not in page
    r = staff.post(f"/staff/orders/{order_id}/collect", data={"card": CARD},
                   follow_redirects=True)
    html = r.get_data(as_text=True)
    code = session.get(Order, order_id).pickup_code
    assert f"Order {code} collected." in html and 'id="collect-with-card"' not in html
    assert lib.checkouts == Counter({"03017777771": 1, "03017777772": 1})
    assert lib.loans == {"03017777771": CARD, "03017777772": CARD}
    session.expire_all()
    assert (session.get(Order, order_id).status, session.get(Order, order_id).card) == (
        "collected", CARD)


@BOTH
def test_a_bag_without_owner_is_not_collected_without_a_card(staff, session, station, ils,
                                                             where):
    lib, _ = ils
    order_id, order, url, data, events = bag_without_owner(staff, session, ["03018888881"], "B-04",
                                                           where)
    r = staff.post(url, data=data, headers=FETCH)
    body = r.get_json()
    assert r.status_code == 409 and not body["ok"] and body["need_card"], body
    assert body["message"] == (
        f"Bag {order.pickup_code} has no patron card yet: the library system has not named its "
        "owner. Scan the patron's card to lend the items and mark the bag collected.")
    nothing_changed(session, lib, order_id, "B-04", events)
    # a plain form post (no script) lands on a page with the message and the card field
    r = staff.post(url, data={**data, "card": ""}, follow_redirects=True)
    html = r.get_data(as_text=True)
    assert "has no patron card yet" in html and 'name="card"' in html
    nothing_changed(session, lib, order_id, "B-04", events)


@BOTH
@pytest.mark.parametrize("card", ["12345", "N00000000X", "N0000000011", "03018888882"])
def test_a_bad_card_number_is_refused_and_nothing_changes(staff, session, station, ils, where,
                                                          card):
    lib, _ = ils
    order_id, order, url, data, events = bag_without_owner(staff, session, ["03019999991"], "B-01",
                                                           where)
    r = staff.post(url, data={**data, "card": card}, headers=FETCH)
    body = r.get_json()
    assert r.status_code == 422 and not body["ok"], body
    assert body["message"] == (f"That is not a valid patron card number: bag "
                               f"{order.pickup_code} not collected.")
    assert body["redirect"] is None  # the desk stays on the card field to scan again
    nothing_changed(session, lib, order_id, "B-01", events)


def test_items_the_ils_refuses_keep_the_bag_on_its_slot_without_a_card(staff, session, station,
                                                                       ils):
    lib, _ = ils
    order_id = shelve_items(staff, ["03011212121", "03011212122"], "A-01")
    code = session.get(Order, order_id).pickup_code
    lib.refuse["03011212121"] = lib.refuse["03011212122"] = "Reservert for en annen låner"
    r = staff.post("/staff/collect", data={"code": code, "card": CARD}, headers=FETCH)
    body = r.get_json()
    assert not body["ok"] and "03011212121 (Reservert for en annen låner)" in body["message"]
    session.expire_all()
    order = session.get(Order, order_id)
    # nothing was lent to that card: the bag does not take it, and the next try asks again
    assert (order.status, order.slot_label, order.card) == ("ready", "A-01", None)
    assert [a for a, _d in audit(session, order_id)][-2:] == ["card_given", "partly_lent"]
    # one item sorted out in the ILS: it is lent, and the bag keeps that card for the rest
    del lib.refuse["03011212121"]
    r = staff.post("/staff/collect", data={"code": code, "card": CARD}, headers=FETCH)
    assert not r.get_json()["ok"] and "03011212122" in r.get_json()["message"]
    session.expire_all()
    order = session.get(Order, order_id)
    assert (order.status, order.slot_label, order.card) == ("ready", "A-01", CARD)
    del lib.refuse["03011212122"]
    r = staff.post("/staff/collect", data={"code": code}, headers=FETCH)
    assert r.get_json()["ok"], r.get_json()
    assert lib.loans == {"03011212121": CARD, "03011212122": CARD}
    assert lib.checkouts == Counter({"03011212121": 2, "03011212122": 3})


def test_card_given_with_the_ils_down_queues_the_checkouts_to_it(staff, session, station, ils):
    lib, server = ils
    order_id = shelve_items(staff, ["03011313131", "03011313132"], "A-02")
    code = session.get(Order, order_id).pickup_code
    server.stop()
    r = staff.post("/staff/collect", data={"code": code, "card": CARD}, headers=FETCH)
    assert r.get_json()["ok"], r.get_json()
    jobs = session.query(IlsJob).filter_by(kind="checkout").order_by(IlsJob.id).all()
    assert [(j.item_barcode, j.state, j.card) for j in jobs] == [
        ("03011313131", "queued", CARD), ("03011313132", "queued", CARD)]
    session.expire_all()
    order = session.get(Order, order_id)
    assert (order.status, order.card) == ("collected", CARD)
    assert audit(session, order_id)[-1][1].endswith(
        "2 items lent (queued for the library system)")


def test_a_card_other_than_the_bags_own_is_refused(staff, client, session, station, ils):
    lib, _ = ils
    order_id = shelve_items(staff, ["03011414141"], "A-03")
    lib.patrons[CARD].holds = ["03011414141"]
    scan(client)  # the ILS names the owner
    session.expire_all()
    order = session.get(Order, order_id)
    assert order.card == CARD
    assert 'id="collect-with-card"' not in staff.get(f"/staff/orders/{order_id}").get_data(
        as_text=True)
    r = staff.post("/staff/collect", data={"code": order.pickup_code, "card": "N000000002"},
                   headers=FETCH)
    assert r.status_code == 409
    assert r.get_json()["message"] == (f"Bag {order.pickup_code} belongs to another patron "
                                       "card: not collected.")
    assert not lib.checkouts
    # the bag's own card needs nothing from staff: collected and lent as before
    r = staff.post("/staff/collect", data={"code": order.pickup_code}, headers=FETCH)
    assert r.get_json() == {"ok": True, "redirect": None, "message":
                            f"Order {order.pickup_code} collected; slot A-03 freed."}
    assert lib.loans == {"03011414141": CARD} and lib.checkouts["03011414141"] == 1


# --- the ILS away -----------------------------------------------------------------------

def test_ils_down_falls_back_and_the_staff_page_says_so(staff, client, session, station, ils):
    lib, server = ils
    make_order(session, card=CARD, slot="A-04", station=station)
    bag_id = shelve_items(staff, ["03013333331"], "A-05")
    lib.patrons[CARD].holds = ["03013333331"]
    assert sorted(p["slot"] for p in scan(client)["pickups"]) == ["A-04", "A-05"]
    assert "Every scan got its holds" in staff.get("/staff/ils/").get_data(as_text=True)
    server.stop()
    body = scan(client)
    # the imported order, and the item bag whose card the ILS named on the earlier scan
    assert sorted(p["slot"] for p in body["pickups"]) == ["A-04", "A-05"]
    assert bag_id in {p["order_id"] for p in body["pickups"]}
    assert station.devices["ils"].state == "disconnected"
    page = staff.get("/staff/ils/").get_data(as_text=True)
    assert "1 scan fell back to local data" in page and CARD not in page


# --- reconciliation and clearance -------------------------------------------------------

def test_reconciliation_finds_shelved_items_no_longer_waiting(session, station, ils):
    lib, server = ils
    kept = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    gone = make_order(session, card=CARD, items=1, slot="A-02", station=station)
    lib.patrons[CARD].holds = [kept.items[0].barcode, "0399999999"]  # the other: cancelled
    report = reconcile(session, station.ils, station.branch)
    assert report.not_waiting == [gone.items[0].barcode] and report.checked_cards == 1
    assert report.waiting_unshelved == ["0399999999"]
    server.stop()
    station.ils._retry_at = 0
    report = reconcile(session, station.ils, station.branch)
    assert report.unreachable and report.error


def test_item_bags_without_a_card_are_asked_item_by_item(staff, session, station, ils):
    lib, _ = ils
    shelve_items(staff, ["03014444441", "03014444442"], "B-01")
    lib.patrons[CARD].holds = ["03014444441"]  # 03014444442 was collected elsewhere
    report = reconcile(session, station.ils, station.branch)
    assert sorted(lib.item_requests) == ["03014444441", "03014444442"]
    assert report.checked_items == 2 and report.checked_cards == 0
    assert [(m.kind, m.item, m.slot) for m in report.mismatches] == [
        (NOT_WAITING, "03014444442", "B-01")]
    assert report.mismatches[0].detail.startswith("status 03")


def test_reconciliation_on_demand_feeds_the_clearance_list(staff, session, station, ils):
    lib, _ = ils
    bag_id = shelve_items(staff, ["03015555551"], "A-03")
    imported = make_order(session, card=CARD, items=1, slot="A-06", station=station)
    lib.patrons[CARD].holds = ["0399999999"]  # neither is waiting any more
    page = staff.get("/staff/clearance").get_data(as_text=True)
    assert "No longer waiting in the library system" in page
    assert "have not been compared" in page
    r = staff.post("/staff/ils/reconcile", follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "1 card and 1 item asked, 3 mismatches" in page
    assert 'class="mismatch-not_waiting" data-item="03015555551"' in page
    assert f'data-item="{imported.items[0].barcode}"' in page
    assert 'class="mismatch-waiting_unshelved" data-item="0399999999"' in page
    assert station.holds.last_report.trigger == "staff"
    page = staff.get("/staff/clearance").get_data(as_text=True)
    section = page.split('class="clearance-not-waiting"')[1].split("</section>")[0]
    bag = session.get(Order, bag_id)
    assert bag.pickup_code in section and imported.pickup_code in section
    assert "03015555551" in section
    # cleared by item barcode although its deadline has not come
    r = staff.post("/staff/clearance", data={"code": "03015555551"}, headers=FETCH)
    assert r.json["ok"] and r.json["slot"] == "A-03", r.json
    r = staff.post("/staff/clearance", data={"code": imported.pickup_code}, headers=FETCH)
    assert r.json["ok"] and r.json["slot"] == "A-06", r.json
    session.expire_all()
    assert {session.get(Order, bag_id).status, session.get(Order, imported.id).status} == {
        "expired"}
    page = staff.get("/staff/clearance").get_data(as_text=True)
    assert "Every bag on the shelf is still waiting" in page


def test_a_bag_still_waiting_is_not_cleared_early(staff, session, station, ils):
    lib, _ = ils
    kept = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    lib.patrons[CARD].holds = [kept.items[0].barcode]
    staff.post("/staff/ils/reconcile")
    r = staff.post("/staff/clearance", data={"code": kept.pickup_code}, headers=FETCH)
    assert r.status_code == 409 and "NOT EXPIRED" in r.json["message"]
    r = staff.post("/staff/clearance", data={"code": kept.items[0].barcode}, headers=FETCH)
    assert r.status_code == 400  # an item still waiting is no reason to clear anything
    session.expire_all()
    assert session.get(Order, kept.id).status == "ready"


def test_reconciliation_with_the_ils_down_is_reported_incomplete(staff, session, station, ils):
    _, server = ils
    make_order(session, card=CARD, items=1, slot="A-01", station=station)
    server.stop()
    r = staff.post("/staff/ils/reconcile", follow_redirects=True)
    assert "did not answer; the report is incomplete" in r.get_data(as_text=True)


def test_reconciliation_runs_on_a_timer(app, session, station, ils):
    from kiosk.ils import runtime

    gone = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    app.config["KIOSK_ILS_RECONCILE_S"] = 0.05
    stop = runtime.start(app)
    try:
        deadline = time.monotonic() + 10
        while station.holds.last_report is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop()
    report = station.holds.last_report
    assert report is not None and report.trigger == "periodic"
    assert report.not_waiting == [gone.items[0].barcode]
