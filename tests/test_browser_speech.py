"""Speech on the patron screen in real Chromium: played after a scan, stopped, keys, PIN.

Audio plays through Chromium's own output (headless: a null sink); the element's played
ranges tell that it really played. Launched with --autoplay-policy=no-user-gesture-required,
as the kiosk browser unit is.
"""

from __future__ import annotations

import threading

import pytest
from factories import make_order
from playwright.sync_api import expect
from staff_helpers import make_user
from test_browser_patron import (  # noqa: F401 (fixtures)
    CARD,
    NETWORK_PRINTER,
    STAFF_CARD,
    open_screen,
    printer,
    scan,
    start_devices,
)

from kiosk import create_app
from kiosk.extensions import db
from kiosk.serving import make_server, stop_server

pytestmark = pytest.mark.browser

SPEECH = {"kiosk": {"speech": "headphones", "idle_seconds": 600, "staff_pin": True}}
PLAYED = """seconds => { const a = document.getElementById('speech-audio');
    return (a.played.length ? a.played.end(a.played.length - 1) : 0) > seconds; }"""


def record(page) -> list[str]:
    """Return a list that fills with the paths of every speech request the page makes."""
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url.split("/kiosk/speech/", 1)[1])
            if "/kiosk/speech/" in r.url else None)
    return seen


def wait_played(page, seconds: float) -> None:
    """Wait until the speech element has played past seconds of its audio."""
    page.wait_for_function(PLAYED, arg=seconds)


@pytest.mark.parametrize("config_overrides", [SPEECH])
def test_a_scan_is_heard_and_a_second_scan_stops_the_first(app, page, station, session):
    make_order(session, card=CARD, slot="A-3", station=station)
    seen = record(page)
    open_screen(page)
    assert page.evaluate("document.documentElement.dataset.speechRequests") == "0"
    scan(page, CARD)
    expect(page.locator("#result h1")).to_be_visible()
    first = page.evaluate("document.getElementById('speech-audio').src")
    assert "/kiosk/speech/scan/" in first and "lang=nb" in first
    wait_played(page, 0.5)  # the words are being played
    assert any(p.startswith("tone/ok.wav") for p in seen)  # the tone came first
    scan(page, "N000000000")  # a card with nothing: the first speech stops at once
    page.wait_for_function("""first => { const src = document.getElementById('speech-audio').src;
                                         return src.includes('/scan/') && src !== first; }""",
                           arg=first)
    second = page.evaluate("document.getElementById('speech-audio').src")
    wait_played(page, 0.3)
    assert page.evaluate("document.getElementById('speech-audio').src") == second
    assert "tone/ok.wav" in " ".join(seen)


@pytest.mark.parametrize("config_overrides", [SPEECH])
def test_repeat_pause_and_volume_keys_and_volume_back_at_idle(app, page, station, session):
    make_order(session, card=CARD, slot="A-3", station=station)
    open_screen(page)
    root = "document.documentElement.dataset"
    assert page.evaluate(f"{root}.speechVolume") == "80"
    scan(page, CARD)
    wait_played(page, 1.0)
    page.keyboard.press("/")  # pause
    page.wait_for_function("() => document.getElementById('speech-audio').paused")
    page.keyboard.press("*")  # repeat: from the start, playing
    page.wait_for_function("""() => { const a = document.getElementById('speech-audio');
                                      return !a.paused && a.currentTime < 1.0; }""")
    page.keyboard.press("+")
    page.keyboard.press("+")
    page.keyboard.press("+")  # at most 100 %
    assert page.evaluate(f"{root}.speechVolume") == "100"
    assert page.evaluate("document.getElementById('speech-audio').volume") == 1.0
    for _ in range(3):
        page.keyboard.press("-")
    assert page.evaluate(f"{root}.speechVolume") == "70"
    assert page.evaluate("document.getElementById('speech-audio').volume") == pytest.approx(0.7)
    page.get_by_role("button", name="Ferdig").click()  # idle: the next patron hears 80 %
    expect(page.locator("#idle")).to_be_visible()
    assert page.evaluate(f"{root}.speechVolume") == "80"
    assert page.evaluate("document.getElementById('speech-audio').paused")
    assert not page.evaluate("document.getElementById('speech-audio').getAttribute('src')")
    page.keyboard.press("*")  # on the idle screen: how to use the station
    page.wait_for_function(
        "() => document.getElementById('speech-audio').src.includes('/message/idle.wav')")
    wait_played(page, 1.0)


@pytest.mark.parametrize("config_overrides", [SPEECH])
def test_pin_digits_are_never_spoken(app, page):
    app.config["KIOSK_LOGIN_DELAY_S"] = 0
    make_user(app, card=STAFF_CARD, pin="4711")
    seen = record(page)
    open_screen(page)
    scan(page, STAFF_CARD)
    expect(page.locator("#result h1")).to_have_text("Innlogging for ansatte")
    page.wait_for_function("() => document.documentElement.dataset.speechRequests === '1'")
    before = len(seen)
    for digit in "0000":
        page.get_by_role("button", name=digit, exact=True).click()
    page.get_by_label("PIN-kode").press("1")  # typed on a keyboard into the field
    page.get_by_label("PIN-kode").press("*")  # the repeat key typed into the PIN field ...
    page.get_by_label("PIN-kode").press("Backspace")  # (not a digit: the form would refuse)
    assert len(seen) == before  # ... asks for nothing
    page.get_by_role("button", name="Logg inn").click()
    expect(page.locator(".pin-form .action-status")).to_have_text("Feil PIN-kode. Prøv igjen.")
    page.wait_for_function("() => document.documentElement.dataset.speechRequests === '2'")
    assert [p for p in seen[before:] if "tone/" not in p] == ["message/pin_wrong.wav?lang=nb"]
    assert not any(d in p for p in seen for d in ("0000", "00001", "4711"))


@pytest.mark.parametrize("config_overrides", [{"kiosk": {"idle_seconds": 600}}])
def test_speech_off_the_screen_is_as_it_was(app, page, station, session, make_settings):
    make_order(session, card=CARD, slot="A-3", station=station)
    seen = record(page)
    open_screen(page)
    off = page.screenshot()
    assert page.locator("audio, #speech-data").count() == 0
    scan(page, CARD)
    expect(page.locator("#result h1")).to_be_visible()
    assert seen == []
    # The same screen with speech on looks the same: the players are hidden.
    speaking = create_app(make_settings(SPEECH), {"TESTING": True})
    server = make_server(speaking, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        other = page.context.new_page()
        other.goto(f"http://127.0.0.1:{server.effective_port}/")
        other.wait_for_function("() => document.documentElement.dataset.speech === 'headphones'")
        other.wait_for_function("() => document.documentElement.dataset.live === 'yes'")
        assert other.screenshot() == off
        other.close()
    finally:
        stop_server(speaking, server)
        thread.join(timeout=5)
        speaking.extensions["speech"].shutdown()
        with speaking.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("config_overrides", [{**NETWORK_PRINTER, **SPEECH}])
def test_slip_and_collect_are_heard(page, session, start_devices, printer):  # noqa: F811
    """The printed slip's content is read aloud; "I have collected it" is answered aloud."""
    station = start_devices(printer.port)
    make_order(session, card=CARD, items=3, slot="A-05", station=station)
    seen = record(page)
    open_screen(page)
    scan(page, CARD)
    wait_played(page, 0.3)
    page.get_by_role("button", name="Skriv ut en lapp").click()
    assert printer.wait_jobs(1)
    page.wait_for_function("() => document.getElementById('speech-audio').src.includes('/slip/')")
    wait_played(page, 2.0)  # the slip's content, heard
    page.get_by_role("button", name="Jeg har hentet posen").click()
    page.wait_for_function(
        "() => document.getElementById('speech-audio').src.includes('/message/collected.wav')")
    assert any(p.startswith("slip/") for p in seen)
