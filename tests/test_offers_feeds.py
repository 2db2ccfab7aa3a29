"""Offer feeds read for real: RSS, Atom, iCalendar and JSON, over loopback HTTP and from files."""

from __future__ import annotations

import datetime as dt
import http.server
import threading

import pytest

from kiosk.offers import feeds
from kiosk.offers.sources import FeedError, Offer, fetch, load_feed

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
BASE = Offer(kind="podcast", title="", text="", url="", language="nb", source="offers[0]")


# --- a real HTTP server on loopback ------------------------------------------------------


class FeedServer:
    """Serve bodies by path from a ThreadingHTTPServer on 127.0.0.1; count the requests."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        self.hits: dict[str, int] = {}
        routes, hits = self.routes, self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                hits[self.path] = hits.get(self.path, 0) + 1
                status, ctype, body = routes.get(self.path, (404, "text/plain", b"not here"))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
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
              status: int = 200) -> str:
        self.routes[path] = (status, ctype, body.encode() if isinstance(body, str) else body)
        return self.url(path)

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


def ical(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e.strip()}\r\nEND:VEVENT\r\n" for e in events)
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
            + body.replace("\n", "\r\n").replace("\r\r\n", "\r\n") + "END:VCALENDAR\r\n")


EVENTS = ical(
    """UID:past@x
SUMMARY:Ferdig arrangement
DTSTART:20261101T170000Z
DTEND:20261101T180000Z
URL:https://example.org/ferdig""",
    """UID:stream@x
SUMMARY:Strømmet forfatterkveld\\, med chat
DESCRIPTION:Se direkte fra Studio 44.\\nSpør forfatteren i
  chatten.
DTSTART;TZID=Europe/Oslo:20261203T190000
DTEND;TZID=Europe/Oslo:20261203T203000
URL:https://example.org/strom/1203""",
    """UID:cancelled@x
SUMMARY:Avlyst
STATUS:CANCELLED
DTSTART:20261205T170000Z
URL:https://example.org/avlyst""",
    """UID:cafe@x
SUMMARY:Digital språkkafé (українська)
RRULE:FREQ=WEEKLY;BYDAY=TH
DTSTART:20261001T160000Z
DTEND:20261001T173000Z
URL:https://example.org/sprakkafe""",
    """UID:alarm@x
SUMMARY:Med alarm
DTSTART;VALUE=DATE:20261210
URL:https://example.org/alarm
BEGIN:VALARM
ACTION:DISPLAY
DESCRIPTION:Ikke et arrangement
END:VALARM""",
)


# --- parsing -----------------------------------------------------------------------------


def test_rss_gives_newest_episodes_with_clean_text_and_safe_links():
    offers = feeds.parse_feed(RSS.encode(), "auto", BASE, now=NOW)
    assert [o.title for o in offers] == ["Episode 12: Lydbøker", "Episode 11: Krim"]
    assert offers[0].url == "https://example.org/podkast/12?lang=nb"
    assert offers[0].image == "https://example.org/ep12.jpg"
    assert offers[1].image == "https://example.org/cover.jpg"  # the channel's cover
    assert offers[1].text == "Om krim & spenning"
    assert {o.kind for o in offers} == {"podcast"} and {o.language for o in offers} == {"nb"}


def test_atom_entries_use_their_alternate_link():
    offers = feeds.parse_feed(ATOM.encode(), "atom", BASE, now=NOW)
    assert [(o.title, o.url) for o in offers] == [
        ("Bokprat", "https://example.org/strom/bokprat"),
        ("Forfattersamtale", "https://example.org/strom/forfatter")]
    assert offers[0].text == "Nye bøker"
    assert offers[1].image == "https://example.org/logo.png"


def test_ical_keeps_upcoming_events_and_the_next_language_cafe():
    base = Offer(kind="event", title="", text="", url="")
    offers = feeds.parse_feed(EVENTS.encode(), "ical", base, now=NOW)
    by_title = {o.title: o for o in offers}
    assert set(by_title) == {"Strømmet forfatterkveld, med chat",
                             "Digital språkkafé (українська)", "Med alarm"}
    stream = by_title["Strømmet forfatterkveld, med chat"]
    assert stream.text == "Se direkte fra Studio 44. Spør forfatteren i chatten."
    assert stream.when == dt.datetime(2026, 12, 3, 18, 0, tzinfo=dt.UTC)  # 19:00 in Oslo
    assert stream.ends == dt.datetime(2026, 12, 3, 19, 30, tzinfo=dt.UTC)
    cafe = by_title["Digital språkkafé (українська)"]
    assert cafe.when == dt.datetime(2026, 12, 3, 16, 0, tzinfo=dt.UTC)  # the next Thursday
    assert [o.title for o in offers][0] == "Digital språkkafé (українська)"  # soonest first


def test_ical_event_disappears_once_it_has_ended():
    base = Offer(kind="event", title="", text="", url="")
    after = dt.datetime(2026, 12, 3, 19, 31, tzinfo=dt.UTC)
    titles = [o.title for o in feeds.parse_feed(EVENTS.encode(), "auto", base, now=after)]
    assert "Strømmet forfatterkveld, med chat" not in titles
    offers = feeds.parse_feed(EVENTS.encode(), "auto", base, now=NOW)
    stream = next(o for o in offers if o.url.endswith("/1203"))
    assert stream.visible(NOW) and not stream.visible(after)


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
    (b"<rss><channel><item><title>x</title>", "auto", "not well-formed"),
    (b"<!doctype html><html><body>Log in to the Wi-Fi</body></html>", "auto", "not well-formed"),
    (b"<html><body>Captive portal</body></html>", "auto", "found <html>"),
    (ATOM.encode(), "rss", "expected an RSS feed"),
    (b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\n", "auto", "unterminated"),
    (b'{"not": "offers"}', "auto", "JSON feed must be"),
    (b"<rss><channel><item><title>x</title></item></channel></rss>", "rss", "none with a title"),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
     b"<rss><channel><title>&lol2;</title></channel></rss>", "auto", "not well-formed"),
])
def test_malformed_feeds_raise_feed_error(data, kind, problem):
    with pytest.raises(FeedError, match=problem):
        feeds.parse_feed(data, kind, BASE, now=NOW)


def test_empty_but_valid_feed_is_an_empty_set():
    assert feeds.parse_feed(b"<rss><channel><title>t</title></channel></rss>", "auto", BASE,
                            now=NOW) == []


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


def test_fetch_from_a_dead_server_is_feed_error():
    server = FeedServer()
    url = server.serve("/x", RSS)
    server.close()
    with pytest.raises(FeedError, match="cannot read"):
        fetch(url, timeout=2)


def test_fetch_from_file_url_and_plain_path(tmp_path):
    path = tmp_path / "events.ics"
    path.write_text(EVENTS, encoding="utf-8")
    assert fetch(path.as_uri()) == fetch(str(path)) == path.read_bytes()
    with pytest.raises(FeedError, match="cannot read"):
        fetch(str(tmp_path / "missing.ics"))
    with pytest.raises(FeedError, match="unsupported address"):
        fetch("ftp://example.org/feed.xml")
