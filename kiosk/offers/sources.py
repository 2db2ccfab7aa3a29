"""What an offer is, the configuration's `[[offers]]`, and reading a feed's bytes.

The bottom of the offers package: it imports nothing of its own. A feed is read
from http(s)://, file:// or a plain path, never more than MAX_FEED_BYTES, and given
up once FETCH_TIMEOUT_S have passed since the connection began, however slowly the
server sends its headers or body; redirects are followed only to http(s), at most
MAX_REDIRECTS. `kiosk.offers.feeds` turns the bytes into offers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import logging
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import urljoin, urlsplit
from urllib.request import (
    HTTPHandler,
    HTTPRedirectHandler,
    HTTPSHandler,
    OpenerDirector,
    Request,
    build_opener,
    url2pathname,
)

log = logging.getLogger(__name__)

MAX_FEED_BYTES = 2 * 1024 * 1024
FETCH_TIMEOUT_S = 10.0  # the whole fetch: connect, redirects, headers and body
MAX_REDIRECTS = 3
DEFAULT_PORTS = {"http": 80, "https": 443}
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


class _Watch:
    """The sockets of one fetch, cut when its deadline passes (a server that sends its
    headers or body a byte at a time would otherwise restart every read's timeout)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self.cut)
        self._timer.daemon = True
        self._timer.start()

    def message(self, location: str) -> str:
        return f"{location[:200] or 'feed'} took more than {self.seconds:g} s; gave up"

    def left(self) -> float:
        return max(0.01, self.deadline - time.monotonic())

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        self.cut()

    def cut(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # a blocked read returns at once

    def stop(self) -> None:
        self._timer.cancel()


def _opener(watch: _Watch, origin: str) -> OpenerDirector:
    """Return a urllib opener whose connections the watch can cut and whose redirects stay
    on http(s), at most MAX_REDIRECTS, to the feed's own port or the scheme's usual one."""
    own_port = urlsplit(origin).port

    class Conn(http.client.HTTPConnection):
        def connect(self) -> None:
            self.timeout = watch.left()  # connect within what is left of the fetch
            super().connect()
            watch.add(self.sock)

    class SecureConn(http.client.HTTPSConnection):
        def connect(self) -> None:
            self.timeout = watch.left()  # connect within what is left of the fetch
            super().connect()
            watch.add(self.sock)

    class Plain(HTTPHandler):
        def http_open(self, req: Request) -> Any:
            return self.do_open(Conn, req)

    class Secure(HTTPSHandler):
        def https_open(self, req: Request) -> Any:
            return self.do_open(SecureConn, req, context=self._context)

    class Redirects(HTTPRedirectHandler):
        max_redirections = MAX_REDIRECTS

        def http_error_302(self, req: Request, fp: Any, code: int, msg: str,
                           headers: Any) -> Any:
            target = urljoin(req.full_url, headers.get("location") or headers.get("uri") or "")
            parts = urlsplit(target)
            scheme = parts.scheme.lower()
            if scheme not in DEFAULT_PORTS:
                raise FeedError(f"redirected to {target[:200]!r}: not an http(s) address")
            if (parts.port or DEFAULT_PORTS[scheme]) not in (DEFAULT_PORTS[scheme], own_port):
                raise FeedError(f"redirected to {target[:200]!r}: another port")
            return super().http_error_302(req, fp, code, msg, headers)

        http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302

    return build_opener(Plain, Secure, Redirects)


def get(location: str, timeout: float = FETCH_TIMEOUT_S,
        max_bytes: int = MAX_FEED_BYTES) -> tuple[bytes, str]:
    """Return (the body, its Content-Type) at an http(s) location, all within timeout
    seconds from connect to the last byte; raise FeedError saying why not."""
    if urlsplit(location).scheme.lower() not in ("http", "https"):
        raise FeedError(f"unsupported address {location[:200]!r}: not http(s)")
    watch = _Watch(timeout)
    try:
        request = Request(location, headers={"User-Agent": USER_AGENT})
        with _opener(watch, location).open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and int(length) > max_bytes:
                raise FeedError(f"{location[:200]} is {int(length)} bytes, more than {max_bytes}")
            data = _read_by(response, watch, max_bytes + 1, location)
            kind = response.headers.get("Content-Type", "")
    except FeedError:
        raise
    except (OSError, ValueError, http.client.HTTPException) as exc:
        if watch.expired:
            raise FeedError(watch.message(location)) from exc
        if isinstance(exc, HTTPError) and str(exc.msg).startswith(HTTPRedirectHandler.inf_msg):
            raise FeedError(f"cannot read {location}: more than {MAX_REDIRECTS} redirects") from exc
        raise FeedError(f"cannot read {location}: {exc}") from exc
    finally:
        watch.stop()
    if len(data) > max_bytes:
        raise FeedError(f"{location[:200]} is larger than {max_bytes} bytes")
    return data, kind


def _read_by(response: Any, watch: _Watch, limit: int, location: str) -> bytes:
    """Return up to limit bytes of response, giving up at the watch's deadline."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        if watch.expired or time.monotonic() > watch.deadline:
            raise FeedError(watch.message(location))
        chunk = response.read1(min(65536, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if watch.expired:  # the cut ends a read as if the body were complete
        raise FeedError(watch.message(location))
    return b"".join(chunks)


def fetch(location: str, timeout: float = FETCH_TIMEOUT_S,
          max_bytes: int = MAX_FEED_BYTES) -> bytes:
    """Return the bytes of the feed at location, or raise FeedError saying why not."""
    scheme = urlsplit(location).scheme.lower()
    if scheme in ("http", "https"):
        return get(location, timeout, max_bytes)[0]
    if not (scheme == "file" or scheme == "" or len(scheme) == 1):  # one letter: a drive
        raise FeedError(f"unsupported address {location!r}: use http(s)://, file:// or a path")
    path = url2pathname(urlsplit(location).path) if scheme == "file" else location
    try:
        with Path(path).open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except (OSError, ValueError) as exc:
        raise FeedError(f"cannot read {location}: {exc}") from exc
    if len(data) > max_bytes:
        raise FeedError(f"feed is larger than {max_bytes} bytes")
    return data
