"""Staff scan flows that must not mislead: cancelling asks first, shelving refuses an unpacked
bag at its first scan, and a patron card scanned at "Collected" is named as a card."""

from __future__ import annotations

import re

import pytest
from factories import make_order
from staff_helpers import PASSWORD, login, make_user

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
