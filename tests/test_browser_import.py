"""Import and undo in real Chromium: a Norwegian .xlsx with a typo'd branch, then the fix."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sheet_files import xlsx
from staff_helpers import make_user
from test_browser_staff import log_in

from kiosk.models import Order

pytestmark = pytest.mark.browser


def test_a_spreadsheet_with_a_typo_is_refused_then_fixed_and_a_wrong_order_corrected(
        page, app, session, tmp_path):
    make_user(app, "kari")
    log_in(page)
    bad = tmp_path / "bestillinger.xlsx"
    bad.write_bytes(xlsx([["Lånekort", "Strekkode", "Tittel", "Referanse", "Filial"],
                          ["N000000001", "0300001", "Kjærlighet på pinne", "R1", "main"],
                          ["N000000002", "0300002", "Ærlig talt", "R2", "sanvika"]]))
    page.goto("/staff/import")
    page.locator('input[type="file"]').set_input_files(str(bad))
    page.locator('button[type="submit"].primary').click()
    problem = page.locator("table.problems tbody tr")
    expect(problem).to_have_count(1)
    expect(problem).to_contain_text("R2")
    expect(problem).to_contain_text("Unknown branch sanvika")
    expect(page.locator("#confirm-import")).to_have_count(0)

    good = tmp_path / "bestillinger-rettet.xlsx"
    good.write_bytes(xlsx([["Lånekort", "Strekkode", "Tittel", "Referanse", "Filial"],
                           ["N000000001", "0300001", "Kjærlighet på pinne", "R1", "main"],
                           ["N000000003", "0300002", "Ærlig talt", "R2", "main"]]))
    page.goto("/staff/import")
    page.locator('input[type="file"]').set_input_files(str(good))
    page.locator('button[type="submit"].primary').click()
    page.locator("#confirm-import").click()
    expect(page.locator("#import-progress .state")).to_contain_text("2 orders imported")

    # R2 went to the wrong card: find it, correct the card, see it in the history
    page.goto("/staff/orders?q=R2")
    page.locator("table.list a.code").first.click()
    expect(page).to_have_url(re.compile(r"/staff/orders/\d+$"))
    page.locator("details.correct summary").click()
    page.locator('#correct-order input[name="card"]').fill("N000000002")
    page.locator('#correct-order button[type="submit"]').click()
    expect(page.locator(".flash-success")).to_contain_text("corrected")
    expect(page.locator("table.audit")).to_contain_text("card *******003 → *******002")
    session.expire_all()
    assert session.query(Order).filter_by(ref="R2").one().card == "N000000002"
