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


def test_a_file_over_the_upload_limit_is_refused_in_the_staff_language_before_it_is_sent(
        page, app):
    """Past the web server's own limit its refusal would be English: the page says it first."""
    from kiosk.domain import import_files

    make_user(app, "kari")
    log_in(page)
    page.goto("/staff/import?lang=nb")
    sent = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    page.locator('input[type="file"]').set_input_files(files=[{
        "name": "bestillinger.csv", "mimeType": "text/csv",
        "buffer": b"x" * (import_files.MAX_BYTES + 1)}])
    page.locator('button[type="submit"].primary').click()
    refusal = page.locator(".scan-result.error")
    expect(refusal).to_be_visible()
    expect(refusal).to_have_text("Filen er større enn 8 MiB; del den opp i flere importer")
    assert sent == [] and page.url.endswith("/staff/import?lang=nb")
