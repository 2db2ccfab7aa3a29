"""Staff pages in Norwegian: the station's language, the ?lang= switch, no English left over,
and the domain's error messages translated on them (English elsewhere)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from factories import make_order
from flask import Flask
from flask.testing import FlaskClient
from staff_helpers import PASSWORD, make_user

from kiosk.domain import orders as order_ops
from kiosk.domain import shelving
from kiosk.domain.messages import N_, StationError
from kiosk.extensions import db
from kiosk.models import OrderStatus, Slot
from kiosk.staff.common import describe

TRANSLATIONS = Path(__file__).parent.parent / "kiosk" / "translations"
PAGES = ("/staff/packing", "/staff/shelving", "/staff/shelves", "/staff/collect",
         "/staff/orders", "/staff/orders/new", "/staff/import", "/staff/users",
         "/staff/clearance", "/staff/stats", "/staff/labels", "/staff/ils/", "/staff/offers",
         "/staff/webhooks/", "/staff/stations")
FETCH = {"X-Requested-With": "fetch"}
ORDER_PAGES = ("/staff/orders/{id}", "/staff/packing/{id}", "/staff/shelving/{id}",
               "/staff/orders/{id}/label")


def log_in(client: FlaskClient, app: Flask, lang: str | None = None) -> None:
    """Log an admin in through the form, with ?lang= when given (no English pinned)."""
    make_user(app, "kari", "admin")
    query = f"?lang={lang}" if lang else ""
    response = client.post(f"/staff/login{query}", data={"username": "kari",
                                                          "password": PASSWORD})
    assert response.status_code == 302, response.data


def an_order(app: Flask) -> int:
    """Create an order waiting to be packed; return its id (no app context left open)."""
    with app.app_context():
        return make_order(db.session, items=2).id


def english_leftovers(lang: str) -> list[str]:
    """Return the source strings of lang's catalogue that should never show on its pages."""
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        po = read_po(fh, locale=lang)
    return [entry.id for entry in po
            if isinstance(entry.id, str) and entry.string and entry.string != entry.id
            and " " in entry.id and not re.search(r"%\(|\{", entry.id)]


def visible_text(page: str) -> str:
    """Return the page's text and attribute values, with tags, styles and scripts gone."""
    page = re.sub(r"<(style|script)\b.*?</\1>", " ", page, flags=re.S)
    attributes = " ".join(re.findall(r'(?:title|aria-label|placeholder|alt)="([^"]*)"', page))
    return html.unescape(re.sub(r"<[^>]+>", " ", page) + " " + attributes)


def test_staff_pages_follow_the_station_language(app, client):
    log_in(client, app)
    an_order(app)
    page = client.get("/staff/packing").get_data(as_text=True)
    assert '<html lang="nb">' in page
    for text in ("Plukkliste", "Skann en hentekode eller et lånekort for å åpne en bestilling",
                 "Utsetting på hylle", "Hyllekart", "Bestillinger", "Logg ut", "Hentekode",
                 "Første eksemplar", "Rydding", "Statistikk", "Hylleplassetiketter"):
        assert text in page, text
    assert "Pick list" not in page and "Log out" not in page


@pytest.mark.parametrize("config_overrides", [{"station": {"language": "nn"}}])
def test_nynorsk_station_gives_nynorsk_staff_pages(app, client, config_overrides):
    log_in(client, app)
    page = client.get("/staff/orders").get_data(as_text=True)
    assert '<html lang="nn">' in page
    assert "Bestillingar" in page and "Hentekode, referanse eller lånekort" in page
    assert "Ingen bestillingar." in page


def test_lang_switch_reaches_the_staff_pages(app, client):
    log_in(client, app, "nn")
    assert "Utsetjing på hylle" in client.get("/staff/shelving").get_data(as_text=True)
    page = client.get("/staff/shelving?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in page and "Scan the bag label (pickup code)" in page
    assert "Personalkort" in client.get("/staff/users?lang=nb").get_data(as_text=True)


def test_login_page_and_its_messages_are_norwegian(app, client):
    page = client.get("/staff/login").get_data(as_text=True)
    assert "Innlogging for ansatte" in page and "Brukernavn" in page and "Passord" in page
    make_user(app, "kari")
    wrong = client.post("/staff/login", data={"username": "kari", "password": "nope"})
    assert wrong.status_code == 401
    assert "Feil brukernavn eller passord." in wrong.get_data(as_text=True)


def test_flash_messages_come_translated(app, client):
    log_in(client, app, "nn")
    order_id = an_order(app)
    response = client.post(f"/staff/orders/{order_id}/cancel", data={"confirm": "yes"},
                           follow_redirects=True)
    assert response.status_code == 200
    assert re.search(r"Bestilling [\w-]+ er avbestilt\.", response.get_data(as_text=True))
    response = client.post("/staff/packing/open", data={"code": "NO-SUCH"},
                           headers={"X-Requested-With": "fetch"})
    assert response.status_code == 404
    assert response.json["message"] == "Inga open bestilling med hentekode NO-SUCH."


@pytest.mark.parametrize("lang", ["nb", "nn"])
def test_no_english_source_string_is_left_on_a_staff_page(app, client, lang):
    log_in(client, app, lang)
    order_id = an_order(app)
    leftovers = english_leftovers(lang)
    assert len(leftovers) > 150
    seen = 0
    for url in (*PAGES, *(u.format(id=order_id) for u in ORDER_PAGES)):
        response = client.get(url)
        if response.status_code == 404:  # an optional page this configuration leaves out
            continue
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert f'<html lang="{lang}"' in page, url
        text = visible_text(page)
        found = [msgid for msgid in leftovers if msgid in text]
        assert not found, (url, found)
        seen += 1
    assert seen >= len(PAGES) + len(ORDER_PAGES) - 2
    english = visible_text(client.get("/staff/packing?lang=en").get_data(as_text=True))
    assert [msgid for msgid in leftovers if msgid in english]  # the check does see English


def packed_order(app: Flask, status: str = OrderStatus.PACKING) -> tuple[int, str]:
    """Create an order packed and ready for a slot (or in status); return its id and barcode."""
    with app.app_context():
        order = make_order(db.session, items=1)
        order.status, order.packed_at = status, order.created_at
        db.session.commit()
        return order.id, order.items[0].barcode


def retire_slot(app: Flask, label: str) -> None:
    with app.app_context():
        db.session.scalar(db.select(Slot).where(Slot.label == label)).active = False
        db.session.commit()


def test_domain_error_reaches_the_staff_page_in_bokmal(app, client):
    log_in(client, app)
    order_id, _barcode = packed_order(app)
    retire_slot(app, "A-01")
    response = client.post(f"/staff/shelving/{order_id}", data={"slot": "A-01"}, headers=FETCH)
    assert response.status_code == 409
    assert response.json["message"] == "Hylleplass A-01 er ikke i bruk"
    page = client.post(f"/staff/shelving/{order_id}", data={"slot": "A-01"},
                       follow_redirects=True).get_data(as_text=True)
    assert "Hylleplass A-01 er ikke i bruk" in page and "not in use" not in page
    response = client.post(f"/staff/shelving/{order_id}", data={"slot": "Q-77"}, headers=FETCH)
    assert response.status_code == 404
    assert response.json["message"] == "Hylleplass Q-77 finnes ikke"


def test_packing_refused_by_the_order_state_is_told_in_bokmal(app, client):
    log_in(client, app)
    order_id, barcode = packed_order(app, OrderStatus.CANCELLED)
    response = client.post(f"/staff/packing/{order_id}/item", data={"code": barcode},
                           headers=FETCH)
    assert response.json["ok"] is False
    assert response.json["message"] == (f"Bestilling {order_id} har status avbestilt og kan "
                                        "ikke få status pakkes")
    # the order page's badge and the orders list's filter name the status in Bokmål too
    page = client.get(f"/staff/orders/{order_id}").get_data(as_text=True)
    assert re.search(r'class="badge status-cancelled" data-status="cancelled">avbestilt<', page)
    listing = client.get("/staff/orders").get_data(as_text=True)
    assert '<option value="received" >mottatt</option>' in listing


@pytest.mark.parametrize("lang,message", [
    ("nn", "Det finst allereie ein brukar med namnet kari"),
    ("en", "A user named kari exists already"),
])
def test_account_error_on_the_users_page_follows_the_language(app, client, lang, message):
    log_in(client, app, lang)
    response = client.post("/staff/users", data={"username": "kari", "password": "long enough",
                                                 "role": "staff"})
    assert response.status_code == 422
    assert message in html.unescape(response.get_data(as_text=True))


def test_domain_errors_stay_english_outside_the_staff_pages(app):
    with app.app_context():
        order = make_order(db.session, items=1)
        slot = shelving.get_slot(db.session, "A-01", "main")
        slot.active = False
        with pytest.raises(order_ops.OrderError) as caught:
            shelving.shelve(db.session, order, slot, order_ops.Actor("t", "t"),
                            app.extensions["station"].calendar, 7)
        with pytest.raises(order_ops.NotFound) as missing:
            shelving.get_slot(db.session, "Q-77", "main")
        db.session.rollback()
    exc = caught.value
    assert str(exc) == "Slot A-01 is not in use"
    assert (exc.template, exc.params, exc.status_code) == ("Slot %(slot)s is not in use",
                                                           {"slot": "A-01"}, 409)
    assert str(missing.value) == "No slot Q-77" and missing.value.detail == {"slot": "Q-77"}
    plain = StationError("100% sure")  # no params: the text is taken as it is
    assert str(plain) == "100% sure" and plain.params == {}


def test_describe_translates_domain_errors_only(app):
    with app.test_request_context("/staff/shelving?lang=nb"):
        full = order_ops.OrderError(N_("Slot %(slot)s is full"), slot="A-02")
        assert describe(full) == "Hylleplass A-02 er full" and str(full) == "Slot A-02 is full"
        assert describe(ValueError("the period ends before it starts")) == \
            "the period ends before it starts"
