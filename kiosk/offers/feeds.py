"""Turn a feed into offers: RSS 0.9x/1.0/2.0 and Atom through `feedparser` (podcast
episodes, with the iTunes and Media RSS namespaces), iCalendar through
`kiosk.offers.ical` (upcoming events, language cafés) and JSON (a list of offers, or
a JSON Feed 1.1).

The bytes are read here (`sources.fetch`: size limit, timeout) and handed to the
parsers; feedparser never sees an address. It sanitises HTML (scripts and
`javascript:` links go) and does not resolve external entities or DTDs. A feed that
is not what it claims, or has items but none usable, raises FeedError.
"""

from __future__ import annotations

import calendar
import datetime as dt
import html
import io
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any

import feedparser

from kiosk import clock
from kiosk.domain.messages import plural
from kiosk.offers import ical
from kiosk.offers.sources import FeedError, Offer, as_moment, fetch, is_web_url, template

MAX_PER_FEED = 5
MAX_TITLE = 120
MAX_TEXT = 240
KINDS = ("ebooks", "podcast", "event", "language-cafe", "other")
NAMES = feedparser.api.SUPPORTED_VERSIONS  # "rss20" -> "RSS 2.0", "atom10" -> "Atom 1.0"


class _TextOnly(HTMLParser):
    """Collect the text of HTML, leaving out what a browser would not show as text."""

    HIDDEN = ("script", "style", "template", "noscript")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in ("br", "p", "li", "div"):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.hidden:
            self.hidden -= 1


def plain(text: str | None, limit: int = MAX_TEXT) -> str:
    """Return text without HTML, whitespace collapsed, cut at a word within limit."""
    if not text:
        return ""
    if "<" in text:
        parser = _TextOnly()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    text = re.sub(r"\s+", " ", html.unescape(text)).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0] or text[: limit - 1]
    return cut.rstrip(",.;:- ") + "…"


def detect(data: bytes) -> str:
    """Return "ical", "json" or "xml" from a feed's first bytes; raise FeedError otherwise."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:32]
    if head.upper().startswith(b"BEGIN:VCALENDAR"):
        return "ical"
    if head[:1] in (b"{", b"["):
        return "json"
    if head[:1] == b"<":
        return "xml"
    raise FeedError("not an RSS, Atom, iCalendar or JSON feed")


def load_feed(entry: dict[str, Any], now: dt.datetime | None = None,
              source: str = "") -> list[Offer]:
    """Fetch and parse the feed a configuration entry names; raise FeedError on failure."""
    base = replace(template(entry), source=source or entry["feed"])
    data = fetch(entry["feed"])
    return parse_feed(data, entry.get("feed_kind", "auto"), base, now=now,
                      location=entry["feed"])


def parse_feed(data: bytes, kind: str, base: Offer, now: dt.datetime | None = None,
               limit: int = MAX_PER_FEED, location: str = "") -> list[Offer]:
    """Return the offers in a feed, each built on base (kind, language, dates, image);
    relative links in RSS and Atom are resolved against location, the feed's address."""
    now = now or clock.now()
    found = detect(data) if kind == "auto" else kind
    if found == "ical":
        items, total = _from_ical(data, now)
    elif found == "json":
        items, total = _from_json(data)
    else:
        items, total = _from_xml(data, kind, location)
    offers = [o for o in (_finish(base, item) for item in items) if o is not None]
    if total and not offers:
        raise FeedError(f"{plural(total, '%(num)d item', '%(num)d items')} in the feed, none "
                        "with a title and an http(s) link")
    offers = [o for o in offers if o.ends is None or o.ends > now]
    return offers[:limit]


def _finish(base: Offer, item: dict[str, Any]) -> Offer | None:
    title = plain(item.get("title"), MAX_TITLE)
    url = (item.get("url") or base.url or "").strip()
    if not title or not is_web_url(url):
        return None
    image = (item.get("image") or "").strip()
    starts = max((m for m in (base.starts, item.get("starts")) if m), default=None)
    ends = min((m for m in (base.ends, item.get("ends")) if m), default=None)
    kind = item.get("kind") if item.get("kind") in KINDS else base.kind
    return replace(base, kind=kind, title=title, url=url,
                   text=plain(item.get("text")) or base.text,
                   image=image if is_web_url(image) else base.image,
                   language=item.get("language") or base.language,
                   starts=starts, ends=ends, when=item.get("when"),
                   all_day=bool(item.get("all_day")))


# --- iCalendar --------------------------------------------------------------------------


def _from_ical(data: bytes, now: dt.datetime) -> tuple[list[dict[str, Any]], int]:
    occurrences, total = ical.upcoming(data, now)
    items = [{"title": o.summary, "text": o.description, "url": o.url,
              "when": o.start, "all_day": o.all_day, "ends": o.end}
             for o in occurrences]
    return items, total


# --- JSON: a list of offers in the configuration's words, or a JSON Feed 1.1 --------------


def _from_json(data: bytes) -> tuple[list[dict[str, Any]], int]:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise FeedError(f"not valid JSON: {exc}") from exc
    if isinstance(doc, dict) and isinstance(doc.get("items"), list):  # JSON Feed 1.x
        entries = [{"title": i.get("title"), "url": i.get("url") or i.get("external_url"),
                    "text": i.get("summary") or i.get("content_text") or i.get("content_html"),
                    "image": i.get("image") or i.get("banner_image"),
                    "when": None} for i in doc["items"] if isinstance(i, dict)]
        return [_strings(e) for e in entries], len(doc["items"])
    if isinstance(doc, dict) and isinstance(doc.get("offers"), list):
        doc = doc["offers"]
    if not isinstance(doc, list):
        raise FeedError('JSON feed must be a list of offers, {"offers": [...]} or a JSON Feed')
    items = []
    for entry in doc:
        if not isinstance(entry, dict):
            continue
        item = _strings({k: entry.get(k) for k in
                         ("kind", "title", "text", "url", "image", "language")})
        try:
            item["starts"] = as_moment(entry.get("starts"))
            item["ends"] = as_moment(entry.get("ends"), end=True)
        except (TypeError, ValueError):
            continue
        items.append(item)
    return items, len(doc)


def _strings(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, str) else None) for k, v in entry.items()}


# --- RSS and Atom, through feedparser ---------------------------------------------------


def _from_xml(data: bytes, kind: str, location: str) -> tuple[list[dict[str, Any]], int]:
    # A stream, never bytes or text: feedparser would take a string for an address or a path.
    # Only the base for relative links comes from the address; nothing is fetched.
    headers = {"content-location": location} if is_web_url(location) else {}
    parsed = feedparser.parse(io.BytesIO(_utf8_declared(data)), resolve_relative_uris=True,
                              sanitize_html=True, response_headers=headers)
    version = parsed.get("version") or ""
    if not version:
        problem = parsed.get("bozo_exception")
        said = problem.getMessage() if hasattr(problem, "getMessage") else str(problem or "")
        raise FeedError("not an RSS or Atom feed" + (f" ({said})" if said else ""))
    family = "atom" if version.startswith("atom") else "rss"
    if kind in ("rss", "atom") and family != kind:
        expected = {"rss": "an RSS feed", "atom": "an Atom feed"}[kind]
        raise FeedError(f"expected {expected}, found {NAMES.get(version, version)}")
    cover = _image(parsed.feed) or parsed.feed.get("logo") or parsed.feed.get("icon") or ""
    items = []
    for entry in parsed.entries:
        items.append({
            "title": entry.get("title"),
            "url": entry.get("link") if is_web_url(entry.get("link") or "") else _audio(entry),
            "text": entry.get("summary") or _content(entry),
            "image": _image(entry) or cover,
            "published": _stamp(entry.get("published_parsed") or entry.get("updated_parsed")),
        })
    items.sort(key=lambda i: i["published"], reverse=True)  # newest first
    return items, len(items)


_DECLARED = re.compile(rb"""^(\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding=["']([\w.:-]+)["']""")
SINGLE_BYTE = {"iso-8859-1", "latin-1", "latin1", "iso-8859-15", "windows-1252", "cp1252",
               "us-ascii", "ascii"}


def _utf8_declared(data: bytes) -> bytes:
    """Return data declared as UTF-8 when it says Latin-1/Windows-1252 but is UTF-8.

    feedparser itself falls back from a false "UTF-8" to Windows-1252; the other way
    round, it would show "SÃ¸ndag". Text with non-ASCII letters in a single-byte
    encoding is practically never valid UTF-8, so valid UTF-8 is what it is.
    """
    found = _DECLARED.match(data[:200])
    if not found or found.group(2).decode("ascii").lower() not in SINGLE_BYTE:
        return data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data
    return data[:found.start(2)] + b"utf-8" + data[found.end(2):]


def _stamp(parsed: Any) -> float:
    return float(calendar.timegm(parsed)) if parsed else float("-inf")


def _content(entry: Any) -> str:
    return next((c.get("value", "") for c in entry.get("content") or [] if c.get("value")), "")


def _audio(entry: Any) -> str:
    """Return an episode's enclosure (a phone plays it) when the entry has no web link."""
    return next((e.get("href", "") for e in entry.get("enclosures") or []
                 if is_web_url(e.get("href", ""))), "")


def _image(el: Any) -> str:
    """Return an episode's or channel's picture: itunes:image, media:*, an image enclosure."""
    found = (el.get("image") or {}).get("href", "")
    if found:
        return found
    for thumb in el.get("media_thumbnail") or []:
        if thumb.get("url"):
            return thumb["url"]
    for content in el.get("media_content") or []:
        if content.get("medium") == "image" or content.get("type", "").startswith("image/"):
            return content.get("url", "")
    return next((e.get("href", "") for e in el.get("enclosures") or []
                 if e.get("type", "").startswith("image/")), "")
