"""What an offer is, the configuration's `[[offers]]`, and reading a feed's bytes.

The bottom of the offers package: it imports nothing of its own. A feed is read
from http(s)://, file:// or a plain path, never more than MAX_FEED_BYTES, and given
up once FETCH_TIMEOUT_S have passed (a stalled read waits at most that long again);
`kiosk.offers.feeds` turns the bytes into offers.
"""

from __future__ import annotations

import datetime as dt
import http.client
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import Request, url2pathname, urlopen

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 2 * 1024 * 1024
FETCH_TIMEOUT_S = 10.0
USER_AGENT = "kiosk-offers/0.1 (library pickup station)"
WEB_SCHEMES = ("http://", "https://")


class FeedError(Exception):
    """Raised when a feed cannot be read or is not a feed this station understands."""


@dataclass(frozen=True)
class Offer:
    """One digital offer on the idle screen: what, where to open it, and when it shows."""

    kind: str
    title: str
    text: str
    url: str
    image: str = ""
    language: str = ""
    starts: dt.datetime | None = None  # shown from (aware)
    ends: dt.datetime | None = None  # shown until, exclusive (aware)
    when: dt.datetime | None = None  # an event's start, shown to patrons
    all_day: bool = False  # when is a day, not a time of day
    after_pickup: bool = False
    source: str = "config"

    def visible(self, now: dt.datetime) -> bool:
        """Return True when the offer is within its dates at now."""
        started = self.starts is None or self.starts <= now
        return started and (self.ends is None or now < self.ends)

    def speaks(self, language: str) -> bool:
        """Return True when the offer has no language or one of its languages is language."""
        if not self.language:
            return True
        return language in {part.strip() for part in self.language.split(",")}

    def as_dict(self) -> dict[str, Any]:
        """Return the offer as JSON-ready values (datetimes as ISO text)."""
        out = asdict(self)
        for key in ("starts", "ends", "when"):
            out[key] = out[key].isoformat() if out[key] else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Offer:
        """Return the offer stored by `as_dict` (raises KeyError/TypeError/ValueError if bad)."""
        values = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        for key in ("starts", "ends", "when"):
            if values.get(key):
                values[key] = dt.datetime.fromisoformat(values[key])
        return cls(**values)


def local_midnight(day: dt.date) -> dt.datetime:
    """Return the start of day in the station's local time (its own UTC offset, DST or not)."""
    return dt.datetime.combine(day, dt.time()).astimezone()


def as_moment(value: Any, end: bool = False) -> dt.datetime | None:
    """Return a configured date or datetime as an aware datetime (a date's end: next midnight)."""
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.astimezone()
    if isinstance(value, dt.time):
        return None
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if end:
        day += dt.timedelta(days=1)
    return local_midnight(day)


def is_web_url(url: str) -> bool:
    """Return True when url is an http(s) address a phone can open."""
    return url.lower().startswith(WEB_SCHEMES) and len(url) <= 2000 and "\n" not in url


def template(entry: dict[str, Any], source: str = "config") -> Offer:
    """Return the offer a configuration entry describes (for a feed: the defaults of its items)."""
    return Offer(
        kind=entry.get("kind") or "other", title=entry.get("title", ""),
        text=entry.get("text", ""), url=entry.get("url", ""), image=entry.get("image", ""),
        language=entry.get("language", ""), starts=as_moment(entry.get("starts")),
        ends=as_moment(entry.get("ends"), end=True),
        after_pickup=bool(entry.get("after_pickup")), source=source)


def config_offers(entries: list[dict[str, Any]]) -> list[Offer]:
    """Return the offers written out in the configuration (entries without a feed)."""
    offers = []
    for i, entry in enumerate(entries):
        if entry.get("feed"):
            continue
        offer = template(entry, source=f"offers[{i}]")
        if not is_web_url(offer.url):
            log.warning("offers[%d]: url %r is not an http(s) address; not shown", i, offer.url)
            continue
        offers.append(offer)
    return offers


def feed_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return the configuration entries that name a feed."""
    return [e for e in entries if e.get("feed")]


def _read_by(response: Any, deadline: float, limit: int) -> bytes:
    """Return up to limit bytes of response, giving up at deadline (a server that trickles
    a byte now and then would otherwise hold the refresher as long as it likes)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        if time.monotonic() > deadline:
            raise FeedError("feed took too long to arrive; gave up")
        chunk = response.read1(min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def fetch(location: str, timeout: float = FETCH_TIMEOUT_S,
          max_bytes: int = MAX_FEED_BYTES) -> bytes:
    """Return the bytes of the feed at location, or raise FeedError saying why not."""
    scheme = urlsplit(location).scheme.lower()
    try:
        if scheme in ("http", "https"):
            request = Request(location, headers={"User-Agent": USER_AGENT})
            deadline = time.monotonic() + timeout
            with urlopen(request, timeout=timeout) as response:  # noqa: S310 - scheme checked
                length = response.headers.get("Content-Length", "")
                if length.isdigit() and int(length) > max_bytes:
                    raise FeedError(f"feed is {int(length)} bytes, more than {max_bytes}")
                data = _read_by(response, deadline, max_bytes + 1)
        elif scheme == "file" or scheme == "" or len(scheme) == 1:  # one letter: a Windows drive
            path = url2pathname(urlsplit(location).path) if scheme == "file" else location
            with Path(path).open("rb") as fh:
                data = fh.read(max_bytes + 1)
        else:
            raise FeedError(f"unsupported address {location!r}: use http(s)://, file:// or a path")
    except FeedError:
        raise
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise FeedError(f"cannot read {location}: {exc}") from exc
    if len(data) > max_bytes:
        raise FeedError(f"feed is larger than {max_bytes} bytes")
    return data

