"""Every page of the station, found in the app's URL map, with data so that its tables fill.

Browser tests that must cover every page (the pseudo-locale test, the screen sizes test)
take the list from here: a page added later is visited without editing the tests. A page
whose URL needs a value this module does not know (a new kind of id) fails the tests
until IDS names where to take it from.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from factories import ACTOR, make_order
from flask import Flask, url_for
from playwright.sync_api import expect
from staff_helpers import PASSWORD, make_user

from kiosk.domain import orders as order_ops
from kiosk.domain import shelving
from kiosk.domain.branches import branch_name
from kiosk.extensions import db
from kiosk.ils import queue
from kiosk.models import IlsJob, Order

ADMIN = "kari"
CARD = "N123456789"
OFFERS = [{"kind": "ebooks", "title": "Lån e-bøker og lydbøker",
           "text": "Rett på mobilen, hele døgnet.",
           "url": "https://example.org/e-bibliotek/a/very/long/path/that/goes/on/and/on/"
                  "without/a/single/space/in/it/so/it/must/wrap/anywhere?x=1&y=2",
           "after_pickup": True},
          {"kind": "event", "title": "Språkkafé", "text": "Hver tirsdag.",
           "url": "https://example.org/sprakkafe", "starts": "2020-01-01", "ends": "2020-01-31"}]
# The staff pages' configuration: offers, a short pick-up time and a self-collect screen.
CONFIG = {"offers": OFFERS, "kiosk": {"rate_limit": "off", "idle_seconds": 600,
                                      "self_collect": True}}
GOOD_CSV = "card,item_barcode,title,order_ref\nN000000077,0399000001,Sult,imp-1\n"
BAD_CSV = "card,item_barcode,title,order_ref\nnot-a-card,0399000002,Sult,imp-2\n"


@dataclass
class SiteData:
    """What the pages show: order ids by status, and the values that are data, not words."""

    orders: dict[str, int] = field(default_factory=dict)
    values: list[str] = field(default_factory=list)
    ids: dict[str, object] = field(default_factory=dict)


def populate(app: Flask) -> SiteData:
    """Fill the database: an admin, orders in every status with a history, a checkout."""
    make_user(app, ADMIN, "admin")
    make_user(app, "ola")
    station = app.extensions["station"]
    data = SiteData()
    with app.app_context():
        session = db.session
        today = dt.date.today()
        ready = make_order(session, card=CARD, items=3, slot="B-03", station=station)
        make_order(session, card=CARD, items=2, slot="B-03", station=station)  # two in a slot
        second = make_order(session, card=CARD, items=1, slot="A-02", station=station)
        shelving.shelve(session, second, shelving.get_slot(session, "A-04", "main"), ACTOR,
                        station.calendar, 7)  # moved: "moved from A-02 to A-04"
        late = make_order(session, items=1, slot="A-01", station=station)
        late.deadline = today - dt.timedelta(days=3)
        late.shelved_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
        packing = make_order(session, card=CARD, items=3)
        order_ops.pack_item(session, packing, packing.items[0].barcode, ACTOR)
        received = make_order(session, items=2, ref="ref-17")
        collected = make_order(session, items=2, slot="B-01", station=station)
        order_ops.collect(session, collected, ACTOR, "staff scan")  # as rows before codes
        expired = make_order(session, items=1, slot="B-02", station=station)
        order_ops.expire(session, expired, ACTOR)
        cancelled = make_order(session, items=1)
        order_ops.cancel(session, cancelled, ACTOR, "cancelled by staff")
        short = make_order(session, items=2)
        order_ops.pack_item(session, short, short.items[0].barcode, ACTOR)
        order_ops.finish_packing(session, short, ACTOR, "the second copy is lost")
        session.add(IlsJob(kind=queue.CHECKOUT, order_id=collected.id,
                           item_id=collected.items[0].id, card=CARD,
                           item_barcode=collected.items[0].barcode, state=queue.REFUSED,
                           attempts=1, message="Hold for another"))
        session.commit()
        data.orders = {"ready": ready.id, "moved": second.id, "late": late.id,
                       "packing": packing.id, "received": received.id,
                       "collected": collected.id, "expired": expired.id,
                       "cancelled": cancelled.id, "short": short.id}
        orders = session.scalars(db.select(Order)).all()
        data.values = sorted({*(i.title for o in orders for i in o.items if i.title),
                              *(o.ref for o in orders if o.ref), *(o.branch for o in orders),
                              *(branch_name(o.branch) for o in orders),
                              ACTOR.name, ACTOR.station, station.name, ADMIN, "ola",
                              "Hold for another", "the second copy is lost", "Sult",
                              "orders.csv",
                              *(s["name"] for s in station.settings.shelves),
                              *(v for o in OFFERS for v in (o["title"], o["text"], o["url"]))})
    # name: an offer picture that is not cached (a 404, left out as no page)
    data.ids = {"order_id": data.orders["packing"], "name": "none.png"}
    return data


# Which order each page about one order shows (the others get the order being packed).
ORDER_FOR = {"staff.order_detail": "ready", "staff.shelve_order": "short",
             "staff.bag_label": "ready"}


def log_in(page, lang: str | None = None) -> None:
    """Log the admin in through the form, in lang when given."""
    page.goto(f"/staff/login?lang={lang}" if lang else "/staff/login")
    page.locator("#username").fill(ADMIN)
    page.locator("#password").fill(PASSWORD)
    page.locator("form.login button[type=submit], form button[type=submit]").first.click()
    expect(page).not_to_have_url(re.compile(r"/staff/login"))


def upload(page, name: str, text: str) -> None:
    """Upload an import file on the staff Import page; wait for its preview."""
    page.goto("/staff/import")
    page.locator("input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}])
    page.locator("form[enctype] button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text(name)


def import_token(page) -> str:
    """Import GOOD_CSV through the browser; return the import's token (its status page)."""
    upload(page, "orders.csv", GOOD_CSV)
    page.locator("#confirm-import").click()
    expect(page.locator("#import-progress")).to_have_attribute("data-state", "done")
    return page.url.rstrip("/").rsplit("/", 1)[1]


def html_pages(app: Flask, client, data: SiteData) -> tuple[list[str], list[str]]:
    """Return the URLs of every GET page that answers HTML, and what was left out why.

    client must be logged in as the admin. Rules needing an argument IDS lacks fail.
    """
    pages, left_out = [], []
    rules = sorted((r for r in app.url_map.iter_rules()
                    if "GET" in r.methods and r.endpoint != "static"), key=lambda r: r.rule)
    for rule in rules:
        args = {}
        for name in rule.arguments:
            assert name in data.ids, (f"{rule.rule}: the page tests need a value for <{name}>;"
                                      " add it to SiteData.ids in tests/site_pages.py")
            args[name] = data.ids[name]
        if rule.endpoint in ORDER_FOR:
            args["order_id"] = data.orders[ORDER_FOR[rule.endpoint]]
        with app.test_request_context():
            url = url_for(rule.endpoint, **args)
        response = client.get(url, buffered=False)
        try:
            if response.status_code == 200 and response.mimetype == "text/html":
                pages.append(url)
            else:
                left_out.append(f"{url}: {response.status_code} {response.mimetype}")
        finally:
            response.close()
    return pages, left_out


def order_pages(data: SiteData) -> list[str]:
    """Return the page of each order in the data: histories in every status."""
    return [f"/staff/orders/{order_id}" for order_id in data.orders.values()]


def test_client_login(app: Flask):
    """Return a test client logged in as the admin."""
    client = app.test_client()
    response = client.post("/staff/login", data={"username": ADMIN, "password": PASSWORD})
    assert response.status_code == 302, response.data
    return client


