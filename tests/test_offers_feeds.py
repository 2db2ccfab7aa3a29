"""Offer feeds read for real: RSS, Atom, iCalendar and JSON, over loopback HTTP and from files."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
from pathlib import Path

import pytest

from kiosk.offers import feeds
from kiosk.offers.feeds import load_feed
from kiosk.offers.sources import FeedError, Offer, fetch
from kiosk.offers.views import public

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
BASE = Offer(kind="podcast", title="", text="", url="", language="nb", source="offers[0]")


# --- a real HTTP server on loopback ------------------------------------------------------


class FeedServer:
    """Serve bodies by path from a ThreadingHTTPServer on 127.0.0.1; count the requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}
        self.hits: dict[str, int] = {}
        routes, hits = self.routes, self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                hits[self.path] = hits.get(self.path, 0) + 1
                status, ctype, body, headers = routes.get(
                    self.path, (404, "text/plain", b"not here", {}))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def serve(self, path: str, body: str | bytes, ctype: str = "application/xml",
              status: int = 200, headers: dict[str, str] | None = None) -> str:
        self.routes[path] = (status, ctype, body.encode() if isinstance(body, str) else body,
                             headers or {})
        return self.url(path)

    def redirect(self, path: str, to: str) -> str:
        return self.serve(path, "", "text/plain", 302, {"Location": to})

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def feed_server():
    server = FeedServer()
    yield server
    server.close()


# --- sample feeds ------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
<channel><title>Biblioteket podkast</title><link>https://example.org/podkast</link>
<itunes:image href="https://example.org/cover.jpg"/>
<item><title>Episode 11: Krim</title><link>https://example.org/podkast/11</link>
  <description>&lt;p&gt;Om &lt;b&gt;krim&lt;/b&gt; &amp;amp; spenning&lt;/p&gt;</description>
  <pubDate>Tue, 10 Nov 2026 08:00:00 +0100</pubDate></item>
<item><title>Episode 12: Lydbøker</title><link>https://example.org/podkast/12?lang=nb</link>
  <description>Hvordan låne lydbøker.</description>
  <itunes:image href="https://example.org/ep12.jpg"/>
  <pubDate>Tue, 24 Nov 2026 08:00:00 +0100</pubDate></item>
<item><title>Uten lenke</title><description>ingen</description></item>
<item><title>Farlig lenke</title><link>javascript:alert(1)</link></item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Strømmede arrangementer</title>
<logo>https://example.org/logo.png</logo>
<entry><title>Forfattersamtale</title>
  <link rel="alternate" href="https://example.org/strom/forfatter"/>
  <link rel="enclosure" type="audio/mpeg" href="https://example.org/a.mp3"/>
  <summary>Direkte fra Studio 44.</summary><updated>2026-11-20T10:00:00Z</updated></entry>
<entry><title>Bokprat</title><link href="https://example.org/strom/bokprat"/>
  <summary type="html">&lt;em&gt;Nye&lt;/em&gt; bøker</summary>
  <updated>2026-11-25T10:00:00Z</updated></entry>
</feed>"""


FIXTURES = Path(__file__).parent / "fixtures" / "offers"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def everything(offers: list[Offer]) -> str:
    """Return every value the screen gets of the offers (but the QR code's SVG), as one text."""
    shown = [{k: v for k, v in public(o, "nb").items() if k != "qr_svg"} for o in offers]
    return json.dumps(shown, ensure_ascii=False)


# --- RSS and Atom through feedparser -------------------------------------------------------


def test_rss_gives_newest_episodes_with_clean_text_and_safe_links():
    offers = feeds.parse_feed(RSS.encode(), "auto", BASE, now=NOW)
    assert [o.title for o in offers] == ["Episode 12: Lydbøker", "Episode 11: Krim"]
    assert offers[0].url == "https://example.org/podkast/12?lang=nb"
    assert offers[0].image == "https://example.org/ep12.jpg"
    assert offers[1].image == "https://example.org/cover.jpg"  # the channel's cover
    assert offers[1].text == "Om krim & spenning"
    assert {o.kind for o in offers} == {"podcast"} and {o.language for o in offers} == {"nb"}


def test_podcast_with_itunes_namespace_and_cdata():
    offers = feeds.parse_feed(fixture("podcast-itunes.rss"), "rss", BASE, now=NOW)
    assert [(o.title, o.url, o.image) for o in offers] == [
        ("Episode 42: Lydbøker i lomma", "https://example.org/podkast/42?utm_source=rss&lang=nb",
         "https://example.org/podkast/42-3000.jpg"),  # the episode's own itunes:image
        ("Episode 41: Krim fra nord", "https://example.org/podkast/41",
         "https://example.org/podkast/cover-3000.jpg"),  # the channel's itunes:image
        # no <link>: the enclosure, which a phone plays
        ("Trailer: Biblioteksprat", "https://cdn.example.org/biblioteksprat/trailer.mp3",
         "https://example.org/podkast/cover-3000.jpg"),
    ]
    texts = [o.text for o in offers]
    assert texts[:2] == ["Hvordan låne lydbøker på mobilen.",  # itunes:summary first
                         "Om krim & spenning fra Tromsø. Med forfatteren."]  # CDATA, no tags


def test_atom_feed_with_relative_links_html_titles_and_xhtml_content():
    offers = feeds.parse_feed(fixture("events.atom"), "atom", BASE, now=NOW,
                              location="https://example.org/strom/atom.xml")
    assert [(o.title, o.url, o.text) for o in offers] == [
        ("Bokprat & kaffe", "https://example.org/strom/bokprat", "Nye bøker, gamle venner."),
        ("Forfattersamtale", "https://example.org/strom/forfatter", "Direkte fra Studio 44."),
    ]
    assert {o.image for o in offers} == {"https://example.org/strom/logo.png"}  # <logo>
    # Without the feed's address a relative link leads nowhere: that entry is left out.
    assert [o.title for o in feeds.parse_feed(fixture("events.atom"), "auto", BASE,
                                              now=NOW)] == ["Forfattersamtale"]


WRONG_ENCODING = """<?xml version="1.0" encoding="{declared}"?>
<rss version="2.0"><channel><title>Bøker</title><link>https://example.org/</link>
<item><title>Søndagsåpent på Årstad</title><link>https://example.org/søndag</link>
<description>Kom og lån bøker – også på søndager.</description></item>
</channel></rss>"""


@pytest.mark.parametrize("declared, actual", [("UTF-8", "cp1252"), ("ISO-8859-1", "utf-8"),
                                              ("windows-1252", "utf-8")])
def test_rss_with_a_wrong_declared_encoding_still_reads_right(declared, actual):
    data = WRONG_ENCODING.format(declared=declared).encode(actual)
    (offer,) = feeds.parse_feed(data, "auto", BASE, now=NOW)
    assert offer.title == "Søndagsåpent på Årstad"
    assert offer.text == "Kom og lån bøker – også på søndager."


def test_html_in_a_feed_is_text_and_no_javascript_link_survives():
    offers = feeds.parse_feed(fixture("hostile-html.rss"), "auto", BASE, now=NOW)
    assert [(o.title, o.url, o.text, o.image) for o in offers] == [
        ("Ny åpningstid", "https://example.org/nyheter/1", "Se her og her. Trygg lenke", "")]
    shown = everything(offers).lower()
    for bad in ("javascript", "script", "alert", "onerror", "onclick", "data:", "<"):
        assert bad not in shown, bad


def test_plain_text_leaves_out_scripts_also_in_json_feeds():
    jf = json.dumps({"version": "https://jsonfeed.org/version/1.1", "items": [{
        "id": "1", "title": "Lydbok", "url": "https://example.org/l",
        "content_html": "<p>Hør <script>alert(1)</script>nå<style>p{}</style></p>"}]})
    (item,) = feeds.parse_feed(jf.encode(), "json", BASE, now=NOW)
    assert item.text == "Hør nå"


def test_json_offers_and_json_feed():
    doc = ('[{"kind": "ebooks", "title": "E-bøker", "url": "https://example.org/e",'
           ' "ends": "2026-12-31"}, {"title": "no url"}, "junk"]')
    (offer,) = feeds.parse_feed(doc.encode(), "auto", BASE, now=NOW)
    assert (offer.kind, offer.title, offer.language) == ("ebooks", "E-bøker", "nb")
    assert offer.ends is not None and offer.ends.date() == dt.date(2027, 1, 1)
    jf = ('{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1",'
          ' "title": "Lydbok", "url": "https://example.org/l", "summary": "Hør"}]}')
    (item,) = feeds.parse_feed(jf.encode(), "json", BASE, now=NOW)
    assert (item.title, item.text) == ("Lydbok", "Hør")


@pytest.mark.parametrize("data, kind, problem", [
    (b"\x00\x01garbage \xff", "auto", "not an RSS"),
    (b"\x00\x01garbage \xff", "rss", "not an RSS or Atom feed"),
    (b"<rss><channel><item><title>x</title>", "auto", "none with a title"),
    (b"<!doctype html><html><body>Log in to the Wi-Fi</body></html>", "auto",
     r"not an RSS or Atom feed \(syntax error\)"),
    (b"<html><body>Captive portal</body></html>", "auto", "not an RSS or Atom feed"),
    (ATOM.encode(), "rss", "expected an RSS feed, found Atom 1.0"),
    (RSS.encode(), "atom", "expected an Atom feed, found RSS 2.0"),
    (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\n", "auto", "not an iCalendar feed"),
    (b"<rss/>", "ical", "not an iCalendar feed"),
    (b'{"not": "offers"}', "auto", "JSON feed must be"),
    (b"<rss><channel><item><title>x</title></item></channel></rss>", "rss", "none with a title"),
])
def test_malformed_feeds_raise_feed_error(data, kind, problem):
    with pytest.raises(FeedError, match=problem):
        feeds.parse_feed(data, kind, BASE, now=NOW)


def test_empty_but_valid_feed_is_an_empty_set():
    assert feeds.parse_feed(b"<rss><channel><title>t</title></channel></rss>", "auto", BASE,
                            now=NOW) == []


# --- hostile XML: feedparser expands no entity bombs and fetches nothing -------------------


def test_billion_laughs_is_not_expanded():
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE rss [{entities}]><rss version="2.0"><channel>'
            "<title>&lol9;</title><item><title>Bombe &lol9;</title>"
            "<link>https://example.org/x</link><description>&lol9;</description></item>"
            "</channel></rss>").encode()
    offers = feeds.parse_feed(bomb, "auto", BASE, now=NOW)
    assert "lollol" not in everything(offers)
    assert all(len(o.title) < 20 and len(o.text) < 20 for o in offers)


def test_external_entities_and_dtds_are_never_fetched(feed_server, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET", encoding="utf-8")
    dtd = feed_server.serve("/evil.dtd", '<!ENTITY stolen "STOLEN">', "application/xml-dtd")
    remote = feed_server.url("/entity")
    doc = (f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{dtd}" [\n'
           f'<!ENTITY file SYSTEM "{secret.as_uri()}">\n<!ENTITY web SYSTEM "{remote}">\n'
           f'<!ENTITY % param SYSTEM "{feed_server.url("/param.dtd")}"> %param;\n]>\n'
           '<rss version="2.0"><channel><title>t</title><item><title>A &file; &web; &stolen;'
           '</title><link>https://example.org/a</link><description>&file;&web;</description>'
           "</item></channel></rss>").encode()
    for kind in ("auto", "rss"):
        shown = everything(feeds.parse_feed(doc, kind, BASE, now=NOW))
        assert "TOPSECRET" not in shown and "STOLEN" not in shown
    assert feed_server.hits == {}  # not the DTD, not the entities, not the parameter entity


# --- fetching ------------------------------------------------------------------------------


def test_fetch_over_loopback_http(feed_server):
    url = feed_server.serve("/podkast.xml", RSS)
    offers = load_feed({"feed": url, "feed_kind": "rss", "kind": "podcast"}, now=NOW)
    assert len(offers) == 2 and feed_server.hits["/podkast.xml"] == 1


@pytest.mark.parametrize("status", [404, 500])
def test_fetch_http_error_is_feed_error(feed_server, status):
    url = feed_server.serve("/x", "oops", "text/plain", status=status)
    with pytest.raises(FeedError, match=str(status)):
        fetch(url)


def test_fetch_refuses_a_huge_feed(feed_server, tmp_path):
    huge = b"<rss>" + b" " * (3 * 1024 * 1024) + b"</rss>"
    with pytest.raises(FeedError, match="bytes"):
        fetch(feed_server.serve("/huge", huge))
    (tmp_path / "huge.xml").write_bytes(huge)
    with pytest.raises(FeedError, match="larger than"):
        fetch(str(tmp_path / "huge.xml"))


def test_fetch_gives_up_on_a_server_that_trickles():
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\n\r\n<rss>")
            for _ in range(200):  # a byte now and then for 10 s (a broken fetch fails, not hangs)
                if stop.wait(0.05):
                    break
                conn.sendall(b" ")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        with pytest.raises(FeedError, match="gave up"):
            fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/feed", timeout=0.5)
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_fetch_gives_up_on_headers_sent_a_byte_at_a_time():
    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))

    def trickle() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.sendall(b"HTTP/1.1 200 OK\r\n")
            for _ in range(400):  # a header byte now and then for 20 s, never the blank line
                if stop.wait(0.05):
                    break
                conn.sendall(b"X-Slow: y\r\n"[_ % 11:_ % 11 + 1])

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        with pytest.raises(FeedError, match="took more than 0.5 s; gave up"):
            fetch(f"http://127.0.0.1:{listener.getsockname()[1]}/feed", timeout=0.5)
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_redirects_stay_on_http_and_on_the_feeds_port_at_most_three(feed_server):
    final = feed_server.serve("/feed.xml", RSS)
    hops = [feed_server.redirect(f"/hop{i}", final if i == 3 else feed_server.url(f"/hop{i + 1}"))
            for i in range(4)]
    assert feeds.parse_feed(fetch(hops[1]), "rss", BASE, now=NOW)  # three redirects: read
    with pytest.raises(FeedError, match="more than 3 redirects"):
        fetch(hops[0])
    for target, problem in [("ftp://127.0.0.1/feed.xml", "not an http"),
                            ("file:///etc/passwd", "not an http"),
                            ("http://127.0.0.1:9/internal", "another port")]:
        with pytest.raises(FeedError, match=problem):
            fetch(feed_server.redirect("/away", target))
    assert "/feed.xml" not in feed_server.hits or feed_server.hits["/feed.xml"] == 1


def test_fetch_from_a_dead_server_is_feed_error():
    server = FeedServer()
    url = server.serve("/x", RSS)
    server.close()
    with pytest.raises(FeedError, match="cannot read"):
        fetch(url, timeout=2)


def test_fetch_from_file_url_and_plain_path(tmp_path):
    path = tmp_path / "events.ics"
    path.write_bytes(fixture("google-calendar.ics"))
    assert fetch(path.as_uri()) == fetch(str(path)) == path.read_bytes()
    with pytest.raises(FeedError, match="cannot read"):
        fetch(str(tmp_path / "missing.ics"))
    with pytest.raises(FeedError, match="unsupported address"):
        fetch("ftp://example.org/feed.xml")
