"""Offer pictures: fetched once by the station from a real loopback server, checked, kept and
served from /kiosk/offers/image/; anything else dropped; pages allow images only from the station.
"""

from __future__ import annotations

import json
import logging

import pytest
from test_offers import offer, wait_for
from test_offers_feeds import FeedServer, feed_server  # noqa: F401 - a fixture

from kiosk import barcodes
from kiosk.offers import images, runtime

PNG = barcodes.qr_png("bilde")

pytestmark = pytest.mark.usefixtures("offers_state_dir")


def shown(app) -> dict[str, str]:
    body = app.test_client().get("/kiosk/offers").get_json()
    return {o["title"]: o["image"] for o in body["offers"]}


def test_pictures_are_fetched_by_the_station_checked_and_served_from_it(
        make_offers_app, feed_server, caplog):  # noqa: F811
    pictures = {
        "Bilde": feed_server.serve("/cover.png", PNG, "image/png"),
        "HTML": feed_server.serve("/page.png", b"<html><script>x</script></html>", "text/html"),
        "Svg": feed_server.serve("/logo.svg", b"<svg onload='x()'/>", "image/svg+xml"),
        "Lyver": feed_server.serve("/lies.png", b"<html>not a picture</html>", "image/png"),
        "Stor": feed_server.serve("/huge.png", PNG + b"\0" * images.MAX_IMAGE_BYTES,
                                  "image/png"),
        "Intern": "http://127.0.0.1:9/internal.png",
    }
    items = [{"title": t, "url": f"https://example.org/{t}", "image": u}
             for t, u in pictures.items()]
    url = feed_server.serve("/offers.json", json.dumps(items), "application/json")
    configured = feed_server.serve("/configured.png", PNG, "image/png")
    entries = [{"kind": "ebooks", "feed": url},
               offer(title="Konfigurert", image=configured)]
    app = make_offers_app(entries)
    assert shown(app)["Konfigurert"] == ""  # not fetched by a request
    with caplog.at_level(logging.WARNING, logger="kiosk.offers"):
        app.extensions["offers"].refresh()

    seen = shown(app)
    assert {t for t, image in seen.items() if image} == {"Bilde", "Konfigurert"}
    for title in ("Bilde", "Konfigurert"):
        assert seen[title].startswith("/kiosk/offers/image/")
        picture = app.test_client().get(seen[title])
        assert picture.status_code == 200 and picture.mimetype == "image/png"
        assert picture.data == PNG
    assert "is not a PNG, JPEG, GIF or WebP picture" in caplog.text
    assert "Lyver" not in [t for t, image in seen.items() if image]
    assert feed_server.hits["/cover.png"] == 1

    app.extensions["offers"].refresh()  # kept: not fetched again, also after a restart
    restarted = make_offers_app(entries)
    assert shown(restarted) == seen
    assert feed_server.hits["/cover.png"] == 1 and feed_server.hits["/configured.png"] == 1


def test_only_names_of_fetched_pictures_are_served(client):
    for name in ("../kiosk.db", "x.png", "a" * 64 + ".svg", "a" * 64 + ".png"):
        assert client.get(f"/kiosk/offers/image/{name}").status_code == 404


def test_pages_load_images_only_from_the_station(client):
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "img-src 'self' data:;" in policy
    assert "http:" not in policy and "https:" not in policy


def test_the_refresher_runs_for_configured_pictures_alone(make_offers_app, feed_server):  # noqa: F811
    app = make_offers_app([offer(image=feed_server.serve("/c.png", PNG, "image/png"))])
    stop = runtime.start(app)
    try:
        wait_for(lambda: shown(app)["Lån e-bøker"] != "")  # fetched on the refresher's thread
    finally:
        stop()
    assert shown(app)["Lån e-bøker"].startswith("/kiosk/offers/image/")
