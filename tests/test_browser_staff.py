"""The staff side in real Chromium with a wedge scanner: log in, pack, shelve, shelf map."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from factories import make_order
from flask import request
from playwright.sync_api import expect
from staff_helpers import PASSWORD, make_user

from kiosk.models import Order, OrderStatus

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).parent.parent / "docs" / "img"


def wedge_scan(page, code: str) -> None:
    """Type code as a USB keyboard-wedge scanner does: keys ms apart, then Enter."""
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")


def scanner_ready(page, field: str = "#scan") -> None:
    """Wait until a newly opened page takes scans: its script is running, its field focused.

    The URL changes when the next page starts; until staff.js (at the end of the page) has
    run, Enter would post the form without it and keys typed before the autofocus are lost.
    """
    page.wait_for_load_state("domcontentloaded")
    expect(page.locator(field)).to_be_focused()


def log_in(page, username: str = "kari") -> None:
    """Log in through the form (in English, as the tests read it) and wait for the next page."""
    page.goto("/staff/login?lang=en")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/staff/login"))


def screenshot(page, name: str) -> None:
    """Save the page for the README at 1920×1080 (the whole page when it is longer)."""
    if os.environ.get("KIOSK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        size = page.viewport_size
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
        page.set_viewport_size(size)


def test_from_pick_list_to_shelf_with_a_scanner(page, app, session, station):
    make_user(app, "kari")
    order = make_order(session, items=3)
    for _ in range(3):
        make_order(session, items=2)
    today = dt.date.today()
    for slot, deadline in (("A-01", today - dt.timedelta(days=10)), ("A-02", today),
                           ("A-02", None), ("B-01", None)):
        shelved = make_order(session, slot=slot, station=station)
        if deadline:
            shelved.deadline = deadline
            shelved.shelved_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    session.commit()
    order_id, code = order.id, order.pickup_code
    barcodes = [i.barcode for i in order.items]
    session.close()

    # log in: the staff pages send us to the login form first (in English, as read below)
    page.goto("/staff/login?lang=en")
    page.goto("/staff/packing")
    expect(page).to_have_url(re.compile(r"/staff/login\?next=/staff/packing$"))
    page.get_by_label("Username").fill("kari")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/staff/packing$"))
    expect(page.locator(".pick-list")).to_contain_text(code)

    # open the order by scanning its pickup code into the autofocused field
    scanner_ready(page)
    wedge_scan(page, code)
    expect(page).to_have_url(re.compile(rf"/staff/packing/{order_id}$"))

    # scan items fast; a wrong item in between warns loudly
    scanner_ready(page)
    wedge_scan(page, barcodes[0])
    wedge_scan(page, "9999999999")
    wedge_scan(page, barcodes[1])
    expect(page.locator("#left")).to_have_text("1")
    wedge_scan(page, "9999999998")
    result = page.locator(".scan-result")
    expect(result).to_have_class(re.compile("error"))
    expect(result).to_contain_text("WRONG ITEM: 9999999998")
    assert page.evaluate("document.body.dataset.lastBeep") == "error"
    screenshot(page, "staff-packing.png")

    # "Packed" is refused while an item is missing
    page.locator("#packed").click()
    expect(page.locator(".flash-error")).to_contain_text("1 item missing")
    scanner_ready(page)
    wedge_scan(page, barcodes[2])
    expect(page.locator("#left")).to_have_text("0")
    expect(page.locator(".scan-result")).to_have_class(re.compile("ok"))
    page.locator("#packed").click()
    expect(page.locator(".flash-success").first).to_contain_text(f"Order {code} is packed")

    # shelving: scan the bag label, then the slot label
    page.get_by_role("link", name="Shelving", exact=True).click()
    scanner_ready(page, "#bag")
    wedge_scan(page, code.replace("-", ""))  # a Code 128 read of the label, hyphen or not
    expect(page).to_have_url(re.compile(rf"/staff/shelving/{order_id}$"))
    expect(page.locator("#accept-suggestion")).to_be_visible()
    screenshot(page, "staff-shelving.png")
    scanner_ready(page, "#slot")
    wedge_scan(page, "A-01")  # one expired bag on it: room for one more
    expect(page).to_have_url(re.compile(r"/staff/shelving$"))
    expect(page.locator(".flash-success")).to_contain_text(f"Bag {code} is on A-01")

    # a full slot is refused loudly
    other = make_order(session, items=1)
    other.packed_at = dt.datetime.now(dt.UTC)
    session.commit()
    scanner_ready(page, "#bag")
    wedge_scan(page, other.pickup_code)
    expect(page).to_have_url(re.compile(rf"/staff/shelving/{other.id}$"))
    scanner_ready(page, "#slot")
    wedge_scan(page, "A-02")
    expect(page.locator(".scan-result")).to_contain_text("Slot A-02 is full")
    assert page.evaluate("document.body.dataset.lastBeep") == "error"

    # the shelf map shows the bag with occupancy and deadline colours
    page.get_by_role("link", name="Shelf map").click()
    slot = page.locator('[data-slot="A-01"]')
    expect(slot).to_contain_text(code)
    expect(slot.locator(".occupancy")).to_have_text("2/2")
    expect(slot).to_have_class(re.compile("slot-expired"))
    # A last day on a closed day (Sunday, holiday) moves to the next open day, as in clearance.
    due = "slot-today" if station.calendar.is_open(dt.date.today()) else "slot-full"
    expect(page.locator('[data-slot="A-02"]')).to_have_class(re.compile(due))
    expect(page.locator('[data-slot="B-01"]')).to_have_class(re.compile("slot-used"))
    screenshot(page, "staff-shelf-map.png")

    session.expire_all()
    shelved = session.get(Order, order_id)
    assert shelved.status == OrderStatus.READY and shelved.slot_label == "A-01"
    assert [e.actor for e in shelved.audit if e.action in ("packed", "shelved")] == ["kari"] * 2


def test_session_end_sends_the_scanner_page_back_to_login(page, app, session):
    make_user(app, "kari")
    order = make_order(session, items=1)
    log_in(page)
    page.goto(f"/staff/packing/{order.id}")
    scanner_ready(page)
    page.context.clear_cookies()
    wedge_scan(page, order.items[0].barcode)
    expect(page).to_have_url(re.compile(r"/staff/login\?timeout=1&next="))


def test_scans_typed_before_the_next_page_is_up_are_posted_there(page, app, session):
    """A scanner is quicker than a busy station: the pickup code opens the order, and the
    items scanned before the order's page has come are packed on it, not lost on the list."""
    make_user(app, "kari")
    order = make_order(session, items=3)
    order_id, code = order.id, order.pickup_code
    barcodes = [i.barcode for i in order.items]
    session.close()
    requested, release = threading.Event(), threading.Event()

    @app.before_request
    def slow_order_page():  # the station takes its time to send the order's page
        if request.method == "GET" and request.path == f"/staff/packing/{order_id}":
            requested.set()
            release.wait(20)

    try:
        log_in(page)
        page.goto("/staff/packing")
        scanner_ready(page)
        # the pickup code and, before the station has answered it, the first item
        page.evaluate("""codes => {
            for (const code of codes) {
                const input = document.activeElement;
                input.value = code;
                input.form.requestSubmit();
            }
        }""", [code, barcodes[0]])
        assert requested.wait(20)  # the answer sent the page on; the order's page is coming
        wedge_scan(page, barcodes[1])  # typed into the pick list, still on the screen
    finally:
        release.set()
    expect(page).to_have_url(re.compile(rf"/staff/packing/{order_id}$"))
    expect(page.locator("#left")).to_have_text("1")
    for barcode, state in zip(barcodes, ("packed", "packed", "missing"), strict=True):
        expect(page.locator(f'[data-item="{barcode}"]')).to_have_class(state)
    expect(page.locator(".scan-result")).to_have_class(re.compile("ok"))
    session.expire_all()
    assert [i.barcode for i in session.get(Order, order_id).items if i.packed_at] == barcodes[:2]


def zbar(png: Path) -> set[str]:
    out = subprocess.run(["zbarimg", "--quiet", str(png)], capture_output=True, text=True,
                         timeout=30)
    return set(out.stdout.split())


@pytest.mark.skipif(not shutil.which("zbarimg"), reason="zbarimg (zbar-tools) not installed")
def test_bag_label_barcodes_decode_as_printed(browser, live_server, app, session, tmp_path):
    make_user(app, "kari")
    order = make_order(session, items=1)
    # about 380 dpi, like a label printer (203-300 dpi) rather than a screen's 96
    context = browser.new_context(base_url=live_server, device_scale_factor=4)
    try:
        page = context.new_page()
        log_in(page)
        page.goto(f"/staff/orders/{order.id}/label")
        expect(page.locator(".code")).to_have_text(order.pickup_code)
        for part, symbology in ((".code128", "CODE-128"), (".qr", "QR-Code")):
            png = tmp_path / f"{part[1:]}.png"
            page.locator(part).screenshot(path=str(png))
            assert zbar(png) == {f"{symbology}:{order.pickup_code}"}
    finally:
        context.close()
