"""Turn a feed's bytes into offers: RSS 2.0 and Atom (podcast episodes), iCalendar
(upcoming events, language cafés) and JSON (a list of offers, or a JSON Feed).

XML goes through defusedxml (no entity expansion, no external resources). A feed
that is not what it claims, or has items but none usable, raises FeedError.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from kiosk.offers import ical
from kiosk.offers.sources import FeedError, Offer, as_moment, is_web_url, local_tz

MAX_PER_FEED = 5
MAX_TITLE = 120
MAX_TEXT = 240
KINDS = ("ebooks", "podcast", "event", "language-cafe", "other")

ATOM = "{http://www.w3.org/2005/Atom}"
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"
MEDIA = "{http://search.yahoo.com/mrss/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}"


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("br", "p", "li", "div"):
            self.parts.append(" ")


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


def parse_feed(data: bytes, kind: str, base: Offer, now: dt.datetime | None = None,
               limit: int = MAX_PER_FEED) -> list[Offer]:
    """Return the offers in a feed, each built on base (kind, language, dates, image)."""
    now = now or dt.datetime.now(dt.UTC)
    found = detect(data)
    if kind == "ical" or (kind == "auto" and found == "ical"):
        items, total = _from_ical(data, now)
    elif kind == "json" or (kind == "auto" and found == "json"):
        items, total = _from_json(data)
    else:
        items, total = _from_xml(data, kind)
    offers = [o for o in (_finish(base, item) for item in items) if o is not None]
    if total and not offers:
        raise FeedError(f"{total} item(s) in the feed, none with a title and an http(s) link")
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
                   starts=starts, ends=ends, when=item.get("when"))


# --- iCalendar --------------------------------------------------------------------------


def _from_ical(data: bytes, now: dt.datetime) -> tuple[list[dict[str, Any]], int]:
    local = local_tz()
    try:
        events = ical.read_events(data.decode("utf-8", errors="replace"), local)
    except ical.ICalError as exc:
        raise FeedError(f"not an iCalendar feed: {exc}") from exc
    items = [{"title": e.summary, "text": e.description, "url": e.url, "when": e.start,
              "ends": e.end if e.end and e.end > e.start else e.start}
             for e in ical.upcoming(events, now, local)]
    return items, len(events)


# --- JSON: a list of offers in the configuration's words, or a JSON Feed ----------------


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


# --- RSS 2.0 and Atom ------------------------------------------------------------------


def _from_xml(data: bytes, kind: str) -> tuple[list[dict[str, Any]], int]:
    try:
        root = SafeET.fromstring(data)
    except (ParseError, DefusedXmlException, ValueError) as exc:
        raise FeedError(f"not well-formed XML: {exc}") from exc
    if root.tag == "rss" and kind in ("auto", "rss"):
        return _from_rss(root)
    if root.tag == f"{ATOM}feed" and kind in ("auto", "atom"):
        return _from_atom(root)
    expected = {"rss": "an RSS feed", "atom": "an Atom feed"}.get(kind, "an RSS or Atom feed")
    raise FeedError(f"expected {expected}, found <{root.tag}>")


def _text(el: Element | None, path: str) -> str:
    found = el.find(path) if el is not None else None
    return (found.text or "").strip() if found is not None else ""


def _rss_date(value: str) -> dt.datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError):
        return None
    return when if when is None or when.tzinfo else when.replace(tzinfo=dt.UTC)


def _from_rss(root: Element) -> tuple[list[dict[str, Any]], int]:
    channel = root.find("channel")
    if channel is None:
        raise FeedError("RSS feed without a <channel>")
    cover = _rss_image(channel) or _text(channel, "image/url")
    items = []
    for item in channel.findall("item"):
        link = _text(item, "link") or _permalink(item)
        items.append({
            "title": _text(item, "title"), "url": link,
            "text": (_text(item, "description") or _text(item, f"{ITUNES}summary")
                     or _text(item, f"{CONTENT}encoded")),
            "image": _rss_image(item) or cover,
            "published": _rss_date(_text(item, "pubDate")),
        })
    newest_first = sorted(items, key=lambda i: i["published"] or dt.datetime.min.replace(
        tzinfo=dt.UTC), reverse=True)
    return newest_first, len(items)


def _permalink(item: Element) -> str:
    guid = item.find("guid")
    if guid is not None and guid.get("isPermaLink", "true").lower() == "true":
        return (guid.text or "").strip()
    return ""


def _rss_image(el: Element) -> str:
    found = el.find(f"{ITUNES}image")
    if found is not None and found.get("href"):
        return found.get("href", "")
    found = el.find(f"{MEDIA}thumbnail")
    if found is not None and found.get("url"):
        return found.get("url", "")
    for content in el.findall(f"{MEDIA}content"):
        if content.get("medium") == "image" or content.get("type", "").startswith("image/"):
            return content.get("url", "")
    enclosure = el.find("enclosure")
    if enclosure is not None and enclosure.get("type", "").startswith("image/"):
        return enclosure.get("url", "")
    return ""


def _atom_link(entry: Element) -> str:
    for link in entry.findall(f"{ATOM}link"):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link.get("href", "")
    return ""


def _from_atom(root: Element) -> tuple[list[dict[str, Any]], int]:
    cover = _text(root, f"{ATOM}logo") or _text(root, f"{ATOM}icon")
    entries = root.findall(f"{ATOM}entry")
    items = []
    for entry in entries:
        image = next((link.get("href", "") for link in entry.findall(f"{ATOM}link")
                      if link.get("rel") == "enclosure"
                      and link.get("type", "").startswith("image/")), "")
        stamp = _text(entry, f"{ATOM}published") or _text(entry, f"{ATOM}updated")
        try:
            published = dt.datetime.fromisoformat(stamp) if stamp else None
        except ValueError:
            published = None
        if published is not None and published.tzinfo is None:
            published = published.replace(tzinfo=dt.UTC)
        items.append({
            "title": _text(entry, f"{ATOM}title"), "url": _atom_link(entry),
            "text": _text(entry, f"{ATOM}summary") or _text(entry, f"{ATOM}content"),
            "image": image or _rss_image(entry) or cover, "published": published,
        })
    items.sort(key=lambda i: i["published"] or dt.datetime.min.replace(tzinfo=dt.UTC),
               reverse=True)
    return items, len(entries)
