"""The patron screen in real Chromium: wedge scans, live scans, results, idle reset, a11y."""

from __future__ import annotations

import json
import os
import urllib.request
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from factories import make_order
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).parent.parent / "docs" / "img"
CARD = "N123456789"
OFFERS = [{"kind": "ebooks", "title": "Lån e-bøker og lydbøker",
           "text": "Rett på mobilen, hele døgnet.", "url": "https://example.org/e-bibliotek"}]
SHORT_IDLE = {"kiosk": {"idle_seconds": 3}}


@pytest.fixture(autouse=True)
def quick_streams(app):
    """Let event streams notice a closed browser within a second, so teardown is quick."""
    app.config["KIOSK_SSE_KEEPALIVE_S"] = 0.5


def open_screen(page, path: str = "/") -> None:
    """Open the patron screen and wait until its script and live channel are up."""
    page.goto(path)
    page.wait_for_function("document.documentElement.classList.contains('js-ready')")
    page.wait_for_function("document.documentElement.dataset.live === 'yes'")


def wedge_scan(page, code: str) -> None:
    """Type code as a USB keyboard-wedge scanner does: keys ms apart, then Enter."""
    page.keyboard.type(code, delay=5)
    page.keyboard.press("Enter")


def screenshot(page, name: str) -> None:
    if os.environ.get("KIOSK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / name))


def assert_no_axe_violations(page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


@pytest.mark.parametrize("config_overrides", [{**SHORT_IDLE, "offers": OFFERS}])
def test_wedge_scan_shows_slots_then_screen_returns_to_idle(page, session, station):
    first = make_order(session, card=CARD, items=3, slot="B-02", station=station)
    second = make_order(session, card=CARD, items=1, slot="A-04", station=station)
    make_order(session, card=CARD, status="packing")
    open_screen(page)
    expect(page.locator("h1")).to_have_text("Skann lånekortet ditt")
    expect(page.locator("#offers h3")).to_have_text(OFFERS[0]["title"])
    screenshot(page, "patron-idle.png")

    wedge_scan(page, CARD)

    result = page.locator("#result")
    expect(result.locator("h1")).to_have_text("Bestillingen din er klar")
    expect(result.locator(".pickup .slot")).to_have_text(["A-04", "B-02"])
    expect(result.locator(".pickup .items")).to_have_text(["1 eksemplar", "3 eksemplarer"])
    expect(result.locator(".pickup .code strong")).to_have_text(
        [second.pickup_code, first.pickup_code])
    expect(result.locator(".pickup .deadline").first).to_contain_text("Hentes innen")
    expect(result.locator(".wall .cell.mine")).to_have_text(["A-04", "B-02"])
    expect(result.locator(".more")).to_contain_text("1 bestilling til")
    expect(result.get_by_role("button", name="Jeg har hentet posen")).to_have_count(2)
    expect(result.get_by_role("button", name="Skriv ut en lapp")).to_have_count(0)  # no printer
    screenshot(page, "patron-result.png")

    expect(page.locator("#idle")).to_be_visible(timeout=8000)
    expect(result).to_be_hidden()
    assert result.evaluate("node => node.childElementCount") == 0
    assert CARD not in page.content() and first.pickup_code not in page.content()


def test_slow_human_typing_is_not_taken_as_a_scan(page, session, station):
    make_order(session, card=CARD, slot="A-01", station=station)
    scans = []
    page.on("request", lambda r: scans.append(r) if r.url.endswith("/kiosk/scan") else None)
    open_screen(page)

    page.keyboard.type(CARD, delay=120)
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert scans == []
    expect(page.locator("#result")).to_be_hidden()

    wedge_scan(page, CARD)  # the same card from a scanner does go through
    expect(page.locator("#result .slot")).to_have_text("A-01")
    assert len(scans) == 1


def done(page) -> None:
    page.get_by_role("button", name="Ferdig").click()
    expect(page.locator("#idle")).to_be_visible()


def test_answers_without_bags_to_fetch(page, session):
    make_order(session, card="N111111111", status="cancelled")
    make_order(session, card="N222222222", status="packing")
    open_screen(page)
    shown = []
    for card in ("N999999999", "N111111111"):  # unknown card, and nothing ready: the same
        wedge_scan(page, card)
        expect(page.locator("#result h1")).to_have_text("Ingenting å hente akkurat nå")
        shown.append(page.locator("#result h1, #result .lead").all_inner_texts())
        done(page)
    assert shown[0] == shown[1]

    wedge_scan(page, "N222222222")
    expect(page.locator("#result h1")).to_have_text("Ikke klar ennå")
    expect(page.locator("#result .lead").first).to_contain_text("Kom gjerne tilbake senere")
    done(page)

    wedge_scan(page, "HELLO-WORLD")
    expect(page.locator("#result h1")).to_have_text("Kortet ble ikke gjenkjent")


def test_language_switch_changes_the_screen_and_sticks(page):
    open_screen(page)
    page.get_by_role("link", name="English").click()
    expect(page.locator("h1")).to_have_text("Scan your library card")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    open_screen(page)  # the choice sticks in the session
    expect(page.locator("h1")).to_have_text("Scan your library card")
    page.get_by_role("link", name="Norsk nynorsk").click()
    expect(page.locator(".steps li").first).to_have_text(
        "Hald strekkoden på lånekortet under skannaren.")
    page.get_by_role("link", name="العربية").click()
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    expect(page.locator("h1")).to_have_text("امسح بطاقة المكتبة")


def test_scan_posted_by_another_client_shows_through_the_event_stream(page, session, station,
                                                                     live_server):
    make_order(session, card=CARD, items=2, slot="B-03", station=station)
    open_screen(page)
    request = urllib.request.Request(f"{live_server}/kiosk/scan", method="POST",
                                     data=json.dumps({"code": CARD}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.load(response)["outcome"] == "ready"
    expect(page.locator("#result .slot")).to_have_text("B-03")
    expect(page.locator("#result .items")).to_have_text("2 eksemplarer")


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"idle_seconds": 6}}])
def test_more_time_button_extends_before_the_reset(page, session, station):
    make_order(session, card=CARD, slot="A-02", station=station)
    open_screen(page)
    wedge_scan(page, CARD)
    warning = page.get_by_role("alert")
    expect(warning).to_be_visible(timeout=5000)
    page.get_by_role("button", name="Mer tid").click()
    expect(warning).to_be_hidden()
    expect(page.locator("#result .countdown")).to_have_text("Skjermen tømmes om 6 sekunder.")
    expect(page.locator("#result .slot")).to_have_text("A-02")


@pytest.mark.parametrize("config_overrides", [
    {"printer": {"kind": "file", "path": "/nonexistent/lp0"}, "kiosk": {"self_collect": True}}])
def test_print_failure_and_self_collect(page, session, station):
    order = make_order(session, card=CARD, slot="A-01", station=station)
    open_screen(page)
    # The print service is down: the screen must say so, whatever the server's error.
    page.route("**/kiosk/print", lambda route: route.fulfill(status=503, body="{}"))
    wedge_scan(page, CARD)
    page.get_by_role("button", name="Skriv ut en lapp").click()
    expect(page.locator(".print .action-status")).to_have_text(
        "Utskrift er ikke tilgjengelig. Noter deg hylleplassen.")

    page.get_by_role("button", name="Jeg har hentet posen").click()
    expect(page.locator(".collect .action-status")).to_have_text(
        "Takk! Registrert som hentet.")
    session.expire_all()
    assert session.get(type(order), order.id).status == "collected"


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"self_collect": False}}])
def test_no_collect_button_when_self_collect_is_off(page, session, station):
    make_order(session, card=CARD, slot="A-01", station=station)
    open_screen(page)
    wedge_scan(page, CARD)
    expect(page.locator("#result .slot")).to_have_text("A-01")
    expect(page.locator("#result button")).to_have_text(["Mer tid", "Ferdig"])


@pytest.mark.parametrize("config_overrides", [
    {"offers": OFFERS, "printer": {"kind": "file", "path": "/nonexistent/lp0"}}])
@pytest.mark.parametrize("lang", ["nb", "nn", "en", "ar"])
def test_axe_finds_no_violations(page, session, station, lang):
    make_order(session, card=CARD, items=2, slot="B-02", station=station)
    make_order(session, card=CARD, status="packing")
    open_screen(page, f"/?lang={lang}")
    expect(page.locator("#offers")).to_be_visible()
    assert_no_axe_violations(page)  # idle, with an offer and its QR code

    wedge_scan(page, CARD)
    expect(page.locator("#result .slot")).to_have_text("B-02")
    assert_no_axe_violations(page)  # ready, with shelf wall and buttons

    page.locator("#result .button").last.click()
    wedge_scan(page, "N999999999")
    expect(page.locator("#result .lead")).to_have_count(1)
    assert_no_axe_violations(page)  # nothing to pick up

    page.goto("/no-such-page")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    assert_no_axe_violations(page)  # the error page


@pytest.mark.parametrize("config_overrides", [{"offers": [
    *OFFERS, {"kind": "podcast", "title": "Bibliotekpodden", "url": "https://example.org/pod"}]}])
def test_offers_do_not_rotate_by_themselves_with_reduced_motion(page):
    page.emulate_media(reduced_motion="reduce")
    open_screen(page)
    expect(page.locator("#offer-count")).to_have_text("Tilbud 1 av 2")
    expect(page.locator("#offer-toggle")).to_have_text("Spill av")  # paused from the start
    page.get_by_role("button", name="Neste tilbud").click()
    expect(page.locator("#offer-count")).to_have_text("Tilbud 2 av 2")
    expect(page.locator("#offers h3")).to_have_text("Bibliotekpodden")
    expect(page.get_by_role("img", name="QR-kode for https://example.org/pod")).to_be_visible()
