"""Statuses that agree with themselves, in real Chromium: the packing page's badge follows the
scans without a reload, and after "Packed" the badge and the history say the same."""

from __future__ import annotations

import re

import pytest
from factories import make_order
from playwright.sync_api import expect
from staff_helpers import make_user
from test_browser_staff import log_in, scanner_ready, wedge_scan

pytestmark = pytest.mark.browser


def test_badge_follows_packing_and_history_agrees(page, app, session):
    app.config["KIOSK_LOGIN_DELAY_S"] = 0
    make_user(app, "kari")
    order = make_order(session, items=2)
    order_id, barcodes = order.id, [i.barcode for i in order.items]
    session.close()
    log_in(page)
    page.goto(f"/staff/packing/{order_id}")
    scanner_ready(page)
    badge = page.locator("h1 .badge")
    expect(badge).to_have_text("received")
    page.evaluate("window.samePage = true")  # gone if the page were loaded again
    wedge_scan(page, barcodes[0])
    expect(page.locator("#left")).to_have_text("1")
    expect(badge).to_have_text("packing")
    expect(badge).to_have_class(re.compile(r"\bstatus-packing\b"))
    assert page.evaluate("window.samePage === true")
    wedge_scan(page, barcodes[1])
    expect(page.locator("#left")).to_have_text("0")
    page.locator("#packed").click()
    expect(page.locator(".flash-success").first).to_contain_text("is packed")
    expect(badge).to_have_text("packed")

    page.goto(f"/staff/orders/{order_id}")
    expect(page.locator("h1 .badge")).to_have_text("packed")
    rows = page.locator("table.audit tbody tr")
    expect(rows.last.locator("td").nth(3)).to_have_text("Bag packed")
    changes = [t.strip() for t in page.locator("td.status-change").all_inner_texts()]
    assert [t for t in changes if t] == ["received → packing"], changes
    expect(page.locator("table.audit")).not_to_contain_text("packing → packing")
