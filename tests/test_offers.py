"""Offers on the idle screen: /kiosk/offers, feeds refreshed in the background, the last good
set kept through dead feeds and restarts, QR codes read back by zbarimg, the after-pickup
offer, the staff preview and `kiosk offers-check`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
import threading
import time

import pytest
from factories import make_order
from test_offers_feeds import RSS, FeedServer, feed_server  # noqa: F401 - a fixture

from kiosk.cli import main as kiosk_main
from kiosk.extensions import db
from kiosk.models import StaffUser
from kiosk.offers import runtime
from kiosk.offers.cache import OfferCache
from kiosk.offers.sources import Offer

TODAY = dt.date.today()

pytestmark = pytest.mark.usefixtures("offers_state_dir")


def offer(**values) -> dict:
    base = {"kind": "ebooks", "title": "Lån e-bøker", "text": "Rett på mobilen.",
            "url": "https://example.org/e-bibliotek"}
    return {**base, **values}


CONFIG_OFFERS = {
    "kiosk": {"offer_seconds": 9},
    "offers": [
        offer(),
        offer(kind="podcast", title="Podkast", url="https://example.org/podkast?ep=12&lang=nb",
              language="nb"),
        offer(kind="other", title="In English", url="https://example.org/en", language="en"),
        offer(title="Over", url="https://example.org/over",
              ends=(TODAY - dt.timedelta(days=1)).isoformat()),
        offer(title="Snart", url="https://example.org/snart",
              starts=(TODAY + dt.timedelta(days=1)).isoformat()),
    ],
}


@pytest.fixture
def decode(tmp_path, zbarimg):

    def run(svg: str) -> list[str]:
        path = tmp_path / "offer-qr.svg"
        path.write_text(svg, encoding="utf-8")
        out = subprocess.run([zbarimg, "--quiet", "--raw", str(path)], capture_output=True,
                             text=True, timeout=30)
        return out.stdout.splitlines()

    return run


def titles(client, query: str = "") -> list[str]:
    response = client.get(f"/kiosk/offers{query}")
    assert response.status_code == 200
    return [o["title"] for o in response.get_json()["offers"]]


def wait_for(predicate, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- offers from the configuration --------------------------------------------------------


@pytest.mark.parametrize("config_overrides", [CONFIG_OFFERS])
def test_configured_offers_in_date_and_language(client):
    body = client.get("/kiosk/offers").get_json()
    assert body["interval_s"] == 9
    assert [o["title"] for o in body["offers"]] == ["Lån e-bøker", "Podkast"]
    first = body["offers"][0]
    assert {"kind", "title", "text", "url", "image", "qr_svg", "language"} <= set(first)
    assert first["qr_svg"].startswith("<svg") and first["kind"] == "ebooks"
    assert titles(client, "?lang=en") == ["Lån e-bøker", "In English"]


@pytest.mark.parametrize("config_overrides", [CONFIG_OFFERS])
def test_qr_codes_decode_to_exactly_their_url(client, decode):
    offers = client.get("/kiosk/offers?lang=nb").get_json()["offers"]
    assert len(offers) == 2
    for shown in offers:
        assert decode(shown["qr_svg"]) == [shown["url"]]


# --- feeds ---------------------------------------------------------------------------------


def test_feed_is_fetched_in_the_background_never_by_a_request(make_offers_app, feed_server):  # noqa: F811
    url = feed_server.serve("/podkast.xml", RSS)
    app = make_offers_app([{"kind": "podcast", "feed": url, "refresh_minutes": 60}, offer()])
    client = app.test_client()
    assert titles(client) == ["Lån e-bøker"]
    assert feed_server.hits == {}  # the request did not wait on the feed
    stop = runtime.start(app)
    try:
        wait_for(lambda: app.extensions["offers"].feeds[0].fetched_at is not None)
    finally:
        stop()
    assert titles(client) == ["Episode 12: Lydbøker", "Episode 11: Krim", "Lån e-bøker"]
    assert feed_server.hits == {"/podkast.xml": 1}


def refreshers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "offers-refresh"]


def test_runtime_without_feeds_starts_nothing(make_offers_app, feed_server):  # noqa: F811
    before = refreshers()
    stop = runtime.start(make_offers_app([offer()]))
    assert refreshers() == before  # no thread for configured offers alone …
    stop()
    url = feed_server.serve("/podkast.xml", RSS)
    stop = runtime.start(make_offers_app([offer(), {"kind": "podcast", "feed": url}]))
    try:
        assert len(refreshers()) == len(before) + 1  # … but one as soon as there is a feed
    finally:
        stop()
    assert refreshers() == before  # and stopping it ends it


@pytest.mark.parametrize("breakage", ["server error", "garbage", "server gone"])
def test_dead_feed_keeps_the_last_good_set_also_after_a_restart(
        make_offers_app, tmp_path, caplog, breakage):
    server = FeedServer()
    try:
        url = server.serve("/podkast.xml", RSS)
        entries = [{"kind": "podcast", "feed": url}]
        first = make_offers_app(entries)
        first.extensions["offers"].refresh()
        assert len(titles(first.test_client())) == 2
        assert len(list((tmp_path / "offers-cache").glob("*.json"))) == 1

        if breakage == "server error":
            server.serve("/podkast.xml", "down for maintenance", "text/plain", status=503)
        elif breakage == "garbage":
            server.serve("/podkast.xml", b"\x89PNG\r\n\x1a\n not a feed")
        else:
            server.close()
        with caplog.at_level(logging.WARNING, logger="kiosk.offers"):
            first.extensions["offers"].refresh()
        assert "showing the last good set (2 offers)" in caplog.text
        assert len(titles(first.test_client())) == 2

        restarted = make_offers_app(entries)  # a new process reads the cache file
        board = restarted.extensions["offers"]
        assert board.feeds[0].from_cache
        assert titles(restarted.test_client()) == ["Episode 12: Lydbøker", "Episode 11: Krim"]
        board.refresh()
        assert board.feeds[0].last_error
        assert len(titles(restarted.test_client())) == 2
    finally:
        if breakage != "server gone":
            server.close()


@pytest.mark.parametrize("body", [
    b"<rss><channel><item>broken",
    b"<rss>" + b" " * (3 * 1024 * 1024) + b"</rss>",
    b"<!doctype html><html><body>Sign in to the guest Wi-Fi</body></html>",
    b'{"error": "rate limited"}',
], ids=["garbage XML", "huge", "HTML page", "wrong JSON"])
def test_malformed_feed_is_logged_and_ignored(make_offers_app, feed_server, caplog, body):  # noqa: F811
    url = feed_server.serve("/feed", body)
    app = make_offers_app([{"kind": "podcast", "feed": url}, offer()])
    with caplog.at_level(logging.WARNING, logger="kiosk.offers"):
        app.extensions["offers"].refresh()
    assert "offers[0] feed" in caplog.text
    assert titles(app.test_client()) == ["Lån e-bøker"]
    assert app.test_client().get("/staff/offers").status_code in (302, 401)


def test_ended_events_disappear_by_themselves(make_offers_app, tmp_path):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def stamp(delta: dt.timedelta) -> str:
        return (now + delta).strftime("%Y%m%dT%H%M%SZ")

    events = tmp_path / "events.ics"
    events.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"
        f"BEGIN:VEVENT\r\nSUMMARY:Over\r\nDTSTART:{stamp(dt.timedelta(hours=-3))}\r\n"
        f"DTEND:{stamp(dt.timedelta(hours=-2))}\r\nURL:https://example.org/over\r\nEND:VEVENT\r\n"
        f"BEGIN:VEVENT\r\nSUMMARY:Strømmet kveld\r\nDTSTART:{stamp(dt.timedelta(hours=1))}\r\n"
        f"DTEND:{stamp(dt.timedelta(hours=2))}\r\nURL:https://example.org/kveld\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n", encoding="utf-8")
    app = make_offers_app([{"kind": "event", "feed": str(events), "feed_kind": "ical"}])
    board = app.extensions["offers"]
    board.refresh()
    body = app.test_client().get("/kiosk/offers").get_json()
    assert [(o["title"], o["kind"]) for o in body["offers"]] == [("Strømmet kveld", "event")]
    assert body["offers"][0]["when"].startswith((now + dt.timedelta(hours=1)).date().isoformat())
    assert board.showing(now=now + dt.timedelta(hours=1, minutes=59))
    assert board.showing(now=now + dt.timedelta(hours=2)) == []


# --- after a pickup --------------------------------------------------------------------------


@pytest.mark.parametrize("config_overrides", [{"offers": [
    offer(title="Podkast", url="https://example.org/podkast"),
    offer(title="Visste du at du kan låne e-bøker?", after_pickup=True)]}])
def test_ready_scan_carries_one_after_pickup_offer(client, session, station):
    make_order(session, card="N123456789", slot="A-01", station=station)
    body = client.post("/kiosk/scan", json={"code": "N123456789"}).get_json()
    assert body["outcome"] == "ready"
    assert body["offer"]["title"] == "Visste du at du kan låne e-bøker?"
    assert body["offer"]["url"] == "https://example.org/e-bibliotek"
    assert body["offer"]["qr_svg"].startswith("<svg")
    nothing = client.post("/kiosk/scan", json={"code": "N999999999"}).get_json()
    assert nothing["outcome"] == "nothing" and nothing["offer"] is None


@pytest.mark.parametrize("config_overrides", [{"offers": [offer()]}])
def test_no_after_pickup_offer_unless_configured(client, session, station):
    make_order(session, card="N123456789", slot="A-01", station=station)
    assert client.post("/kiosk/scan", json={"code": "N123456789"}).get_json()["offer"] is None


LONG_URL = "https://example.org/" + "ø" * 1900  # 1,920 characters (allowed), 3,820 bytes


def test_an_offer_too_long_for_a_qr_code_is_left_out_never_a_500(make_offers_app, feed_server,  # noqa: F811
                                                                    tmp_path, caplog):
    items = [{"title": "For lang", "url": LONG_URL}, {"title": "Passer", "url": "https://e.org/"}]
    url = feed_server.serve("/offers.json", json.dumps(items), "application/json")
    entries = [{"kind": "ebooks", "feed": url, "after_pickup": True},
               offer(title="Også for lang", url=LONG_URL, after_pickup=True)]
    app = make_offers_app(entries)
    with caplog.at_level(logging.WARNING, logger="kiosk.offers"):
        app.extensions["offers"].refresh()
    assert "'For lang' left out" in caplog.text and "'Også for lang' left out" in caplog.text
    assert_no_500_anywhere(app, ["Passer"], "N123456789")

    # A cache written before this check (or by hand) holds the long url: a restart drops it.
    cache = OfferCache(tmp_path / "offers-cache")
    board = app.extensions["offers"]
    cache.save(board.feeds[0].key, url, time.time(),
               [Offer(kind="ebooks", title="For lang", text="", url=LONG_URL, after_pickup=True)])
    feed_server.serve("/offers.json", "down", "text/plain", status=503)
    restarted = make_offers_app(entries)
    assert restarted.extensions["offers"].feeds[0].from_cache
    assert_no_500_anywhere(restarted, [], "N123456780")


def assert_no_500_anywhere(app, shown: list[str], card: str) -> None:
    client = app.test_client()
    assert titles(client) == shown
    with app.app_context():
        make_order(db.session, card=card, slot="A-01", station=app.extensions["station"])
    answer = client.post("/kiosk/scan", json={"code": card})
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "ready"
    assert (answer.get_json()["offer"] or {}).get("title") in (*shown, None)


# --- staff preview and the CLI --------------------------------------------------------------


@pytest.mark.parametrize("config_overrides", [CONFIG_OFFERS])
def test_staff_preview_needs_login_and_shows_the_whole_rotation(app, client):
    assert client.get("/staff/offers").status_code == 302
    with app.app_context():  # not the `session` fixture: its app context would keep `g`
        user = StaffUser(username="kari", password_hash="-", role="staff")
        db.session.add(user)
        db.session.commit()
        user_id = user.id
    with client.session_transaction() as s:
        s["staff_id"], s["staff_gen"], s["staff_seen"] = user_id, 0, int(time.time())
    page = client.get("/staff/offers")
    assert page.status_code == 200, page.headers.get("Location")
    html = page.get_data(as_text=True)
    for title in ("Lån e-bøker", "Podkast", "In English", "Over", "Snart"):
        assert title in html
    assert "avsluttet" in html and "ikke ennå" in html and html.count("<svg") >= 5


def test_offers_check_fetches_every_feed_and_says_what_shows(feed_server, tmp_path,  # noqa: F811
                                                             capsys):
    url = feed_server.serve("/podkast.xml", RSS)
    config = tmp_path / "kiosk.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path}/kiosk.db"\n'
        f'[[offers]]\nkind = "podcast"\nfeed = "{url}"\n'
        '[[offers]]\ntitle = "E-bøker"\nurl = "https://example.org/e"\nlanguage = "nb"\n',
        encoding="utf-8")
    assert kiosk_main(["--config", str(config), "offers-check"]) == 0
    out = capsys.readouterr().out
    assert "ok, 2 offers" in out and "Episode 12: Lydbøker" in out
    assert "3 offers on the idle screen now" in out
    assert kiosk_main(["--config", str(config), "offers-check", "--language", "en"]) == 0
    assert "2 offers on the idle screen now in language en" in capsys.readouterr().out
    assert not (tmp_path / "offers-cache").exists()  # a check changes nothing

    feed_server.serve("/podkast.xml", "gone", "text/plain", status=404)
    assert kiosk_main(["--config", str(config), "offers-check"]) == 1
    assert "FAILED" in capsys.readouterr().out
