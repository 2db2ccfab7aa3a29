"""Staff scan flows that must not mislead: cancelling asks first, shelving refuses an unpacked
bag at its first scan, and a patron card scanned at "Collected" is named as a card."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from factories import ACTOR, make_order
from playwright.sync_api import expect
from staff_helpers import PASSWORD, login, make_user

from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.models import Order, OrderStatus

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def config_overrides():
    """Staff pages in English, so the messages asserted below are the source strings."""
    return {"station": {"name": "Test station", "branch": "main", "language": "en"}}


@pytest.fixture
def staff(client, app):
    login(client, app)
    return client


def status_of(session, order_id: int) -> str:
    session.expire_all()
    return session.get(Order, order_id).status


# --- cancelling an order takes a confirmation ----------------------------------------------

def test_cancel_on_the_order_page_opens_a_confirm_step_first(staff, session, station):
    order = make_order(session, slot="A-02", station=station)
    detail = staff.get(f"/staff/orders/{order.id}").get_data(as_text=True)
    link = re.search(r'<a class="button danger" id="cancel-order" href="([^"]+)"', detail)
    assert link and link[1] == f"/staff/orders/{order.id}/cancel"
    page = staff.get(link[1])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Cancel order" in html and "slot A-02" in html
    assert 'name="confirm" value="yes"' in html and "No, keep it" in html
    assert status_of(session, order.id) == OrderStatus.READY  # looking asks nothing
    done = staff.post(f"/staff/orders/{order.id}/cancel", data={"confirm": "yes"})
    assert done.status_code == 303 and status_of(session, order.id) == OrderStatus.CANCELLED


def test_a_post_without_confirmation_cancels_nothing(staff, session):
    order = make_order(session)
    asked = staff.post(f"/staff/orders/{order.id}/cancel")
    assert asked.status_code == 200 and 'id="confirm-cancel"' in asked.get_data(as_text=True)
    assert status_of(session, order.id) == OrderStatus.RECEIVED
    fetched = staff.post(f"/staff/orders/{order.id}/cancel", headers=FETCH)
    assert fetched.status_code == 428 and not fetched.json["ok"]
    assert fetched.json["confirm"] == f"/staff/orders/{order.id}/cancel"
    assert status_of(session, order.id) == OrderStatus.RECEIVED
    sure = staff.post(f"/staff/orders/{order.id}/cancel", data={"confirm": "yes"},
                      headers=FETCH)
    assert sure.json["ok"] and status_of(session, order.id) == OrderStatus.CANCELLED
    again = staff.get(f"/staff/orders/{order.id}/cancel").get_data(as_text=True)
    assert "cannot be cancelled" in again and 'id="confirm-cancel"' not in again


def test_the_confirmation_needs_the_csrf_token(app, staff, session):
    order = make_order(session)
    app.config["WTF_CSRF_ENABLED"] = True
    forged = staff.post(f"/staff/orders/{order.id}/cancel", data={"confirm": "yes"})
    assert forged.status_code == 400 and status_of(session, order.id) == OrderStatus.RECEIVED
    page = staff.get(f"/staff/orders/{order.id}/cancel").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    done = staff.post(f"/staff/orders/{order.id}/cancel",
                      data={"confirm": "yes", "csrf_token": token})
    assert done.status_code == 303 and status_of(session, order.id) == OrderStatus.CANCELLED


def log_in_speaking(client, app, lang: str) -> None:
    """Log a new account in with ?lang=lang, as staff choose their language at login."""
    make_user(app, "ola")
    response = client.post(f"/staff/login?lang={lang}",
                           data={"username": "ola", "password": PASSWORD})
    assert response.status_code == 302, response.data


@pytest.mark.parametrize("lang, words", [
    ("nb", ["Avbestille bestilling", "Ja, avbestill bestillingen", "Nei, behold den"]),
    ("nn", ["Avbestille bestilling", "Ja, avbestill bestillinga", "Nei, behald henne"]),
    ("en", ["Cancel order", "Yes, cancel the order", "No, keep it"])])
def test_the_confirm_step_speaks_the_staff_language(app, client, lang, words):
    log_in_speaking(client, app, lang)
    with app.app_context():
        order_id = make_order(db.session).id
    html = client.get(f"/staff/orders/{order_id}/cancel").get_data(as_text=True)
    assert all(w in html for w in words), html


# --- shelving refuses a bag not packed yet at its first scan -------------------------------

def test_shelving_refuses_an_unpacked_bag_at_its_first_scan(staff, session, station):
    order = make_order(session, items=2)  # imported, never packed
    fetched = staff.post("/staff/shelving", data={"code": order.pickup_code}, headers=FETCH)
    assert fetched.status_code == 409 and not fetched.json["ok"]
    assert fetched.json["message"] == (f"Order {order.pickup_code} is not packed yet. "
                                       "Finish packing first.")
    assert fetched.json["redirect"] is None  # stays on the bag scan: no slot is asked for
    assert fetched.json["packing"] == f"/staff/packing/{order.id}"
    plain = staff.post("/staff/shelving", data={"code": order.pickup_code},
                       follow_redirects=True)
    assert "is not packed yet" in plain.get_data(as_text=True)
    assert plain.request.path == "/staff/shelving"
    assert status_of(session, order.id) == OrderStatus.RECEIVED


def test_shelving_opens_a_packed_bag_and_a_bag_on_the_shelf(staff, session, station):
    packed = make_order(session, items=1)
    order_ops.pack_item(session, packed, packed.items[0].barcode, ACTOR)
    order_ops.finish_packing(session, packed, ACTOR)
    session.commit()
    shelved = make_order(session, slot="A-01", station=station)  # moving it needs no packing
    for order in (packed, shelved):
        answer = staff.post("/staff/shelving", data={"code": order.pickup_code}, headers=FETCH)
        assert answer.json["ok"] and answer.json["redirect"] == f"/staff/shelving/{order.id}"


# --- a patron card scanned at "Collected" is named as a card ------------------------------

def test_a_card_scanned_at_collect_is_named_with_the_cards_bags(staff, session, station):
    card = "N001234567"
    first = make_order(session, card=card, slot="B-02", station=station)
    second = make_order(session, card=card, slot="A-04", station=station)
    make_order(session, card=card)  # still being packed: not on the shelf
    answer = staff.post("/staff/collect", data={"code": card.lower()}, headers=FETCH)
    assert answer.status_code == 400 and answer.json["card_scanned"]
    message = answer.json["message"]
    assert "pickup code" not in message.split(":")[0] and "No open order" not in message
    assert message.startswith("That is a patron card (*******567), not a bag label")
    assert message.endswith(f"Bags of this card on the shelf: {second.pickup_code} (A-04), "
                            f"{first.pickup_code} (B-02).")
    assert [b["pickup_code"] for b in answer.json["bags"]] == [second.pickup_code,
                                                             first.pickup_code]
    session.expire_all()
    assert session.get(Order, first.id).status == OrderStatus.READY  # nothing collected
    alone = staff.post("/staff/collect", data={"code": "N009999999"}, headers=FETCH)
    assert alone.json["message"].endswith("This card has no bag on the shelf here.")
    wrong = staff.post("/staff/collect", data={"code": "XX-999"}, headers=FETCH)
    assert wrong.status_code == 404 and "No open order with pickup code XX-999" in (
        wrong.json["message"])


@pytest.mark.parametrize("lang, words", [
    ("nb", "Det er et lånekort (*******567), ikke en poseetikett: skann hentekoden"),
    ("nn", "Det er eit lånekort (*******567), ikkje ein poseetikett: skann hentekoden"),
    ("en", "That is a patron card (*******567), not a bag label: scan the pickup code")])
def test_the_card_at_collect_message_speaks_the_staff_language(app, client, lang, words):
    log_in_speaking(client, app, lang)
    page = client.post("/staff/collect", data={"code": "N001234567"}, follow_redirects=True)
    assert words in page.get_data(as_text=True)


# --- clearance shows only the latest outcome (real Chromium) -------------------------------

@pytest.mark.browser
def test_clearance_shows_only_the_latest_outcome(app, page, session, station):
    make_user(app, "kari")
    late = make_order(session, slot="A-01", station=station)
    late.deadline = dt.date.today() - dt.timedelta(days=10)
    late.shelved_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=20)
    session.commit()
    code = late.pickup_code
    session.close()
    page.goto("/staff/login?lang=en")
    page.get_by_label("Username").fill("kari")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/staff/login"))
    page.goto("/staff/clearance")
    expect(page.locator("#scan")).to_be_focused()
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")
    cleared = page.locator(".flash-success")
    expect(cleared).to_contain_text(f"Bag {code} cleared from A-01")  # after the reload
    expect(page.locator("#scan")).to_be_focused()
    page.keyboard.type("XX-999", delay=5)
    page.keyboard.press("Enter")
    expect(page.locator(".scan-result.error")).to_contain_text("UNKNOWN BAG")
    expect(cleared).to_be_hidden()
    shown = page.evaluate("""() => [...document.querySelectorAll(".flash, .scan-result")]
        .filter((el) => el.checkVisibility()).map((el) => el.textContent.trim())""")
    assert len(shown) == 1 and "UNKNOWN BAG" in shown[0], shown
