"""The patron screen in real Chromium: wedge scans, live scans, results, idle reset, a11y.

Also printing on a loopback network printer, the after-pickup offer, and staff mode by
staff card + PIN.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
import urllib.request
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from factories import make_order
from playwright.sync_api import expect
from staff_helpers import make_user
from test_printer import PrinterStandIn

from kiosk.devices import runtime
from kiosk.offers.board import OfferBoard

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).parent.parent / "docs" / "img"
CARD = "N123456789"
OFFERS = [{"kind": "ebooks", "title": "Lån e-bøker og lydbøker",
           "text": "Rett på mobilen, hele døgnet.", "url": "https://example.org/e-bibliotek"}]
SHORT_IDLE = {"kiosk": {"idle_seconds": 3}}
# Tests that look at a result for a while (axe takes seconds on a loaded machine) keep it
# up longer than that; tests about the countdown drive the page's clock instead.
LONG_IDLE = {"idle_seconds": 600}
AFTER_PICKUP = [{**OFFERS[0], "after_pickup": True}]
NETWORK_PRINTER = {"printer": {"kind": "escpos-network", "host": "127.0.0.1", "port": 9,
                               "timeout_s": 1.0}}


@pytest.fixture(autouse=True)
def quick_streams(app):
    """Let event streams notice a closed browser within a second, so teardown is quick."""
    app.config["KIOSK_SSE_KEEPALIVE_S"] = 0.5


def open_screen(page, path: str = "/") -> None:
    """Open the patron screen and wait until its script and live channel are up."""
    page.goto(path)
    # Predicates as functions: a bare expression is eval'd in the page while polling, which
    # the station's Content-Security-Policy (no 'unsafe-eval') refuses.
    page.wait_for_function("() => document.documentElement.classList.contains('js-ready')")
    page.wait_for_function("() => document.documentElement.dataset.live === 'yes'")


def hold_time(page) -> None:
    """Stop the screen's clock: from here its timers run only by page.clock.run_for.

    Call page.clock.install() before open_screen. Idle countdowns are then tested by the
    screen's own clock, not by how fast a loaded machine answers the test's assertions.
    """
    page.clock.pause_at(page.evaluate("Date.now()") / 1000 + 1)


def wedge_scan(page, code: str, gap_ms: float = 5) -> None:
    """Type code as a USB keyboard-wedge scanner does: keys gap_ms apart, then Enter.

    Real key events through Chromium's input pipeline, each stamped with the time the
    scanner typed it (the page judges a scan by the gaps between the events' timestamps).
    page.keyboard.type would stamp each key when it arrives: on a loaded machine one
    key's round trip can stall past the scan timing and a scan is then taken for a person.
    """
    cdp = page.context.new_cdp_session(page)
    try:
        start = time.time()
        for i, char in enumerate([*code, "\r"]):
            key = "Enter" if char == "\r" else char
            at = start + i * gap_ms / 1000
            cdp.send("Input.dispatchKeyEvent",
                     {"type": "keyDown", "key": key, "text": char, "timestamp": at})
            cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "timestamp": at})
    finally:
        cdp.detach()


def scan(page, code: str) -> None:
    """Send a scanner's keystrokes from inside the page, in one go.

    Playwright sends each key in its own round trip; on a loaded machine one of them
    can stall past the scan timing. Tests about what a scan shows use this; the
    timing itself is tested with real keystrokes (wedge_scan) on its own.
    """
    page.evaluate("""code => {
        for (const key of [...code, "Enter"]) {
            document.dispatchEvent(new KeyboardEvent("keydown", {key, bubbles: true}));
        }
    }""", code)


def results_shown(page) -> int:
    """Return how many result screens the page has drawn since it was loaded."""
    return int(page.evaluate("document.documentElement.dataset.resultsShown"))


def screenshot(page, name: str) -> None:
    """Save the screen for the README at 1920×1080, the patron screen's usual size."""
    if os.environ.get("KIOSK_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        size = page.viewport_size
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.screenshot(path=str(SCREENSHOTS / name))
        page.set_viewport_size(size)


def assert_no_axe_violations(page) -> None:
    # Colours are judged at rest: an offer half-way through its fade-in blends into the
    # background (CI once measured 4.15:1 for a text that is well above 4.5:1 once shown).
    # Reduced motion stops the fade-ins and the offers' rotation; what is left is awaited.
    page.emulate_media(reduced_motion="reduce")
    page.evaluate("""() => Promise.all(document.getAnimations()
        .filter((a) => a.effect && a.effect.getComputedTiming().endTime !== Infinity)
        .map((a) => a.finished.catch(() => null)))""")
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


@pytest.mark.parametrize("config_overrides", [{**SHORT_IDLE, "offers": OFFERS}])
def test_wedge_scan_shows_slots_then_screen_returns_to_idle(page, session, station):
    first = make_order(session, card=CARD, items=3, slot="B-02", station=station)
    second = make_order(session, card=CARD, items=1, slot="A-04", station=station)
    make_order(session, card=CARD, status="packing")
    page.clock.install()
    open_screen(page)
    hold_time(page)
    expect(page.locator("h1")).to_have_text("Skann lånekortet ditt")
    expect(page.locator("#offers h3")).to_have_text(OFFERS[0]["title"])
    screenshot(page, "patron-idle.png")

    wedge_scan(page, CARD)

    result = page.locator("#result")
    expect(result.locator("h1")).to_have_text("Bestillingene dine er klare")  # two bags
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

    page.clock.run_for(2500)  # idle_seconds is 3
    expect(result.locator(".slot")).to_have_text(["A-04", "B-02"])
    page.clock.run_for(600)
    expect(page.locator("#idle")).to_be_visible()
    expect(result).to_be_hidden()
    assert result.evaluate("node => node.childElementCount") == 0
    assert CARD not in page.content() and first.pickup_code not in page.content()


def test_slow_human_typing_is_not_taken_as_a_scan(page, session, station):
    make_order(session, card=CARD, slot="A-01", station=station)
    scans = []
    page.on("request", lambda r: scans.append(r) if r.url.endswith("/kiosk/scan") else None)
    open_screen(page)

    wedge_scan(page, CARD, gap_ms=120)  # a person typing the card number, then Enter
    expect(page.locator("#result")).to_be_hidden()

    wedge_scan(page, CARD)  # the same card from a scanner does go through
    expect(page.locator("#result .slot")).to_have_text("A-01")
    # Scans are posted in the order typed: had the typing been taken for one, its request
    # would have come before this one.
    assert [r.post_data_json for r in scans] == [{"code": CARD}]


def done(page) -> None:
    page.get_by_role("button", name="Ferdig").click()
    expect(page.locator("#idle")).to_be_visible()


def test_answers_without_bags_to_fetch(page, session):
    make_order(session, card="N111111111", status="cancelled")
    make_order(session, card="N222222222", status="packing")
    open_screen(page)
    shown = []
    for card in ("N999999999", "N111111111"):  # unknown card, and nothing ready: the same
        scan(page, card)
        expect(page.locator("#result h1")).to_have_text("Ingenting å hente akkurat nå")
        shown.append(page.locator("#result h1, #result .lead").all_inner_texts())
        done(page)
    assert shown[0] == shown[1]

    scan(page, "N222222222")
    expect(page.locator("#result h1")).to_have_text("Ikke klar ennå")
    expect(page.locator("#result .lead").first).to_contain_text("Kom gjerne tilbake senere")
    done(page)

    scan(page, "HELLO-WORLD")
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
    page.clock.install()
    open_screen(page)
    hold_time(page)
    scan(page, CARD)
    countdown = page.locator("#result .countdown")
    expect(countdown).to_have_text("Skjermen tømmes om 6 sekunder.")
    warning = page.get_by_role("alert")
    expect(warning).to_be_hidden()
    page.clock.run_for(3000)  # half the time gone: the warning
    expect(warning).to_be_visible()
    expect(countdown).to_have_text("Skjermen tømmes om 3 sekunder.")
    page.get_by_role("button", name="Mer tid").click()
    expect(warning).to_be_hidden()
    expect(countdown).to_have_text("Skjermen tømmes om 6 sekunder.")
    page.clock.run_for(4000)  # past the first deadline: still there
    expect(page.locator("#result .slot")).to_have_text("A-02")


@pytest.fixture
def start_devices(app):
    """Start the station's devices as `kiosk serve` does, the printer at a port; stop after."""
    stops = []

    def start(printer_port: int):
        app.config["KIOSK_SETTINGS"].sections["printer"]["port"] = printer_port
        stops.append(runtime.start(app))
        return app.extensions["station"]

    yield start
    for stop in stops:
        stop()


@pytest.fixture
def printer():
    """A network receipt printer on loopback that records what it is sent."""
    stand_in = PrinterStandIn()
    yield stand_in
    stand_in.close()


@pytest.mark.parametrize("config_overrides", [NETWORK_PRINTER])
def test_print_button_prints_on_the_network_printer(page, session, start_devices, printer):
    station = start_devices(printer.port)
    order = make_order(session, card=CARD, items=3, slot="A-05", station=station)
    open_screen(page)
    scan(page, CARD)
    page.get_by_role("button", name="Skriv ut en lapp").click()
    expect(page.locator(".print .action-status")).to_have_text("Lappen din skrives ut.")
    expect(page.get_by_role("button", name="Skriv ut en lapp")).to_be_disabled()
    assert printer.wait_jobs(1)
    job = printer.jobs[0]
    assert order.pickup_code.encode() in job and b"Hylleplass A-05 - 3 eks." in job
    assert station.devices["printer"].state == "ok"


@pytest.mark.parametrize("config_overrides", [{**NETWORK_PRINTER,
                                               "kiosk": {"self_collect": True}}])
def test_printer_off_says_note_the_slot_and_self_collect_works(page, session, start_devices):
    free = socket.socket()  # a port where nothing listens: the printer is off
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    station = start_devices(port)
    order = make_order(session, card=CARD, slot="A-01", station=station)
    open_screen(page)
    scan(page, CARD)
    page.get_by_role("button", name="Skriv ut en lapp").click()
    expect(page.locator(".print .action-status")).to_have_text(
        "Utskrift er ikke tilgjengelig. Noter deg hylleplassen.")
    expect(page.locator("#result .slot")).to_have_text("A-01")  # the result stays
    assert station.devices["printer"].state == "error"

    page.get_by_role("button", name="Jeg har hentet posen").click()
    expect(page.locator(".collect .action-status")).to_have_text(
        "Takk! Registrert som hentet.")
    session.expire_all()
    assert session.get(type(order), order.id).status == "collected"


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"self_collect": False}}])
def test_no_collect_button_when_self_collect_is_off(page, session, station):
    make_order(session, card=CARD, slot="A-01", station=station)
    open_screen(page)
    scan(page, CARD)
    expect(page.locator("#result .slot")).to_have_text("A-01")
    expect(page.locator("#result button")).to_have_text(["Mer tid", "Ferdig"])


@pytest.mark.parametrize("config_overrides", [
    {"offers": AFTER_PICKUP, "printer": {"kind": "file", "path": "/nonexistent/lp0"},
     "kiosk": LONG_IDLE}])
@pytest.mark.parametrize("lang", ["nb", "nn", "en", "ar"])
def test_axe_finds_no_violations(page, session, station, lang):
    make_order(session, card=CARD, items=2, slot="B-02", station=station)
    make_order(session, card=CARD, status="packing")
    open_screen(page, f"/?lang={lang}")
    expect(page.locator("#offers")).to_be_visible()
    assert_no_axe_violations(page)  # idle, with an offer and its QR code

    scan(page, CARD)
    expect(page.locator("#result .slot")).to_have_text("B-02")
    expect(page.locator("#result .after-offer h3")).to_have_text(OFFERS[0]["title"])
    assert_no_axe_violations(page)  # ready, with shelf wall, buttons and the offer

    scan(page, "N999999999")  # the next patron, straight from the last result
    expect(page.locator("#result .lead")).to_have_count(1)
    assert_no_axe_violations(page)  # nothing to pick up

    page.goto("/no-such-page")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    assert_no_axe_violations(page)  # the error page


@pytest.mark.parametrize("config_overrides", [{"offers": [
    *OFFERS, {"kind": "podcast", "title": "Bibliotekpodden", "url": "https://example.org/pod"}]}])
def test_offers_do_not_rotate_by_themselves_with_reduced_motion(page):
    page.emulate_media(reduced_motion="reduce")
    page.clock.install()
    open_screen(page)
    hold_time(page)
    expect(page.locator("#offer-count")).to_have_text("Tilbud 1 av 2")
    expect(page.locator("#offer-toggle")).to_have_text("Spill av")  # paused from the start
    page.clock.run_for(60_000)  # five times the rotation interval
    expect(page.locator("#offer-count")).to_have_text("Tilbud 1 av 2")
    page.get_by_role("button", name="Neste tilbud").click()
    expect(page.locator("#offer-count")).to_have_text("Tilbud 2 av 2")
    expect(page.locator("#offers h3")).to_have_text("Bibliotekpodden")
    expect(page.get_by_role("img", name="QR-kode for https://example.org/pod")).to_be_visible()



def test_idle_screen_shows_an_events_next_meeting_in_local_time(app, page, tmp_path, in_oslo):
    day = dt.date.today() + dt.timedelta(days=2)
    ics = tmp_path / "kafe.ics"
    ics.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
                   "UID:kafe\r\nSUMMARY:Digital språkkafé\r\nURL:https://example.org/kafe\r\n"
                   f"DTSTART;TZID=Europe/Oslo:{day:%Y%m%d}T180000\r\nDURATION:PT90M\r\n"
                   "END:VEVENT\r\nEND:VCALENDAR\r\n", encoding="utf-8")
    board = OfferBoard([{"kind": "language-cafe", "feed": str(ics)}])
    board.refresh()
    app.extensions["offers"] = board
    page.emulate_media(reduced_motion="reduce")
    open_screen(page)
    weekdays = ["mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag"]
    months = ["januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
              "september", "oktober", "november", "desember"]
    expect(page.locator("#offers h3")).to_have_text("Digital språkkafé")
    expect(page.locator("#offers .offer-when")).to_have_text(
        f"{weekdays[day.weekday()]} {day.day}. {months[day.month - 1]} {day.year}, 18:00")
    assert_no_axe_violations(page)


@pytest.mark.parametrize("config_overrides", [{"offers": AFTER_PICKUP}])
def test_ready_result_carries_the_after_pickup_offer_with_its_qr_code(page, session, station):
    make_order(session, card=CARD, slot="A-03", station=station)
    open_screen(page)
    scan(page, CARD)
    offer = page.locator("#result .after-offer")
    expect(offer).to_contain_text("Visste du?")
    expect(offer.locator("h3")).to_have_text(OFFERS[0]["title"])
    expect(offer.locator(".offer-url")).to_have_text(OFFERS[0]["url"])
    qr = offer.get_by_role("img", name=f"QR-kode for {OFFERS[0]['url']}")
    expect(qr).to_be_visible()
    assert qr.evaluate("img => img.naturalWidth") > 0  # the SVG data URL really draws
    page.get_by_role("button", name="Ferdig").click()
    scan(page, "N999999999")  # nothing to pick up: no offer
    expect(page.locator("#result h1")).to_have_text("Ingenting å hente akkurat nå")
    expect(page.locator("#result .after-offer")).to_have_count(0)


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"idle_seconds": 2}}])
def test_going_idle_brings_back_the_station_language(page, session, station):
    make_order(session, card=CARD, slot="A-02", station=station)
    page.clock.install()
    open_screen(page, "/?lang=en")
    hold_time(page)
    scan(page, CARD)
    expect(page.locator("#result h1")).to_have_text("Your order is ready")
    # The result times out; the next patron sees the station's language, not the last one's.
    page.clock.run_for(2000)
    expect(page.locator("#idle h1")).to_have_text("Skann lånekortet ditt")
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    open_screen(page)
    expect(page.locator("h1")).to_have_text("Skann lånekortet ditt")  # the session forgot too


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"idle_seconds": 1}}])
def test_another_language_left_on_the_idle_screen_goes_back_after_a_while(page):
    page.clock.install()
    open_screen(page)
    hold_time(page)
    page.get_by_role("link", name="English").click()  # chosen, then nobody scans
    expect(page.locator("h1")).to_have_text("Scan your library card")
    page.clock.run_for(2000)  # quiet for less than three times idle_seconds: it stays
    # (the clock stands still: the page is not leaving for the station's language either)
    assert page.evaluate("[document.documentElement.lang,"
                         " document.documentElement.dataset.leaving || null]") == ["en", None]
    page.clock.run_for(2000)
    expect(page.locator("h1")).to_have_text("Skann lånekortet ditt")


def test_a_scan_answered_and_streamed_is_shown_once(page, session, station):
    make_order(session, card=CARD, slot="B-01", station=station)
    open_screen(page)
    for n in (1, 2):  # the same card twice: two scans, each shown once
        scan(page, CARD)
        # Both the POST answer and the event stream have delivered this scan to the page ...
        page.wait_for_function("([n]) => { const d = document.documentElement.dataset;"
                               " return d.scanAnswers === n && d.liveScans === n; }", arg=[str(n)])
        expect(page.locator("#result .slot")).to_have_text("B-01")
        assert results_shown(page) == n  # ... and the screen drew it once


STAFF_CARD = "S1234567"


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"staff_pin": True, **LONG_IDLE}}])
def test_staff_card_and_pin_switch_the_screen_into_staff_mode(app, page):
    make_user(app, card=STAFF_CARD, pin="4711")
    open_screen(page)
    scan(page, STAFF_CARD)
    expect(page.locator("#result h1")).to_have_text("Innlogging for ansatte")
    assert STAFF_CARD not in page.content()
    assert_no_axe_violations(page)  # the PIN keypad

    def enter(pin: str) -> None:
        for digit in pin:
            page.get_by_role("button", name=digit, exact=True).click()
        page.get_by_role("button", name="Logg inn").click()

    enter("0000")
    expect(page.locator(".pin-form .action-status")).to_have_text("Feil PIN-kode. Prøv igjen.")
    expect(page.get_by_label("PIN-kode")).to_have_value("")
    enter("4711")
    page.wait_for_url("**/staff/**")
    expect(page.get_by_role("button", name="Logg ut")).to_be_visible()
