"""Offer pictures fetched by the station and served from it, never by the screens' browsers.

A feed names its pictures by address; a patron screen or staff browser that loaded them
would reach whatever the feed points at (an address inside the library's network too) and
tell that host who is looking. The refresher fetches each picture once (size-capped, an
image by both its Content-Type and its first bytes), keeps it in the offers cache folder
and the offer then points at /kiosk/offers/image/<name>; a picture that cannot be had is
dropped. Pages allow images only from the station itself (webpolicy's CSP).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import tempfile
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from kiosk.offers.sources import FeedError, Offer, get, is_web_url

log = logging.getLogger(__name__)

ROUTE = "/kiosk/offers/image/"
MAX_IMAGE_BYTES = 1024 * 1024
IMAGE_TIMEOUT_S = 5.0  # per picture, on the refresher's thread
MAX_FILES = 200  # the oldest go first
TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
MIMETYPES = {ext: kind for kind, ext in TYPES.items()}
NAME = re.compile(r"[0-9a-f]{64}\.(png|jpg|gif|webp)")


def sniff(data: bytes) -> str:
    """Return the picture's extension from its first bytes, or "" for anything else (SVG too)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return ""


class ImageStore:
    """One file per picture address, named by its hash, in folder."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _stem(self, url: str) -> str:
        return hashlib.sha256(url.encode("utf-8")).hexdigest()

    def path(self, name: str) -> Path | None:
        """Return the file of a served name, or None for a name that is not one of ours."""
        if not NAME.fullmatch(name):
            return None
        found = self.folder / name
        return found if found.is_file() else None

    def known(self, image: str) -> str:
        """Return the station's address of a picture already fetched, else ""."""
        if image.startswith(ROUTE):
            return image if self.path(image[len(ROUTE):]) else ""
        stem = self._stem(image)
        for ext in MIMETYPES:
            if (self.folder / f"{stem}.{ext}").is_file():
                return f"{ROUTE}{stem}.{ext}"
        return ""

    def fetch(self, url: str, failed: set[str] | None = None) -> str:
        """Return the station's address of the picture at url, fetching it if need be;
        "" (logged) when it cannot be had or is not a PNG, JPEG, GIF or WebP picture.
        failed: hosts that failed a moment ago (not asked again now; added to)."""
        if not is_web_url(url):
            return ""
        done = self.known(url)
        host = urlsplit(url).netloc
        if done or (failed is not None and host in failed):
            return done
        try:
            data, kind = get(url, IMAGE_TIMEOUT_S, MAX_IMAGE_BYTES)
        except FeedError as exc:
            log.warning("offer picture %s left out: %s", url[:200], exc)
            if failed is not None:
                failed.add(host)  # one dead host costs one deadline per refresh, not five
            return ""
        ext = sniff(data)
        declared = TYPES.get(kind.split(";")[0].strip().lower(), "")
        if not ext or declared != ext:
            log.warning("offer picture %s left out: %s is not a PNG, JPEG, GIF or WebP "
                        "picture", url[:200], kind or "no Content-Type")
            return ""
        name = f"{self._stem(url)}.{ext}"
        try:
            self._write(name, data)
        except OSError as exc:
            log.warning("offer picture %s not kept: %s", url[:200], exc)
            return ""
        return ROUTE + name

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".", delete=False) as fh:
            fh.write(data)
        os.replace(fh.name, self.folder / name)
        files = sorted(self.folder.glob("*.*"), key=lambda p: p.stat().st_mtime)
        for old in files[:-MAX_FILES]:
            with contextlib.suppress(OSError):
                old.unlink()

    def localise(self, offers: list[Offer], fetch: bool = False) -> list[Offer]:
        """Return the offers with their pictures served by the station (fetched now when
        fetch is true, else only those at hand) or without a picture."""
        out, failed = [], set()
        for offer in offers:
            if offer.image:
                local = self.fetch(offer.image, failed) if fetch else self.known(offer.image)
                offer = replace(offer, image=local)
            out.append(offer)
        return out
