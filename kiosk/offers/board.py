"""The offers board: every configured offer and each feed's last good set, in memory.

Requests read the board and never wait on the network; `refresh` (called by
the runtime thread or the CLI) fetches feeds and swaps in new sets.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from kiosk import clock
from kiosk.barcodes import qr_fits
from kiosk.domain.messages import plural
from kiosk.offers.cache import OfferCache, feed_key
from kiosk.offers.feeds import load_feed
from kiosk.offers.images import ImageStore
from kiosk.offers.sources import FeedError, Offer, config_offers

log = logging.getLogger(__name__)

RETRY_MAX_S = 5 * 60  # a failed feed is tried again after at most this long


def scannable(offers: list[Offer], where: str) -> list[Offer]:
    """Return the offers whose url fits in a QR code; log each one left out."""
    kept = []
    for offer in offers:
        if qr_fits(offer.url):
            kept.append(offer)
        else:  # 2,000 characters may be 4,000+ bytes: more than a QR code holds
            log.warning("%s: offer %r left out: its url (%d characters) does not fit in a "
                        "QR code", where, offer.title[:60], len(offer.url))
    return kept


@dataclass
class FeedState:
    """One configured feed: its entry, its last good set and how the last fetch went."""

    index: int
    entry: dict[str, Any]
    offers: list[Offer] = field(default_factory=list)
    fetched_at: float | None = None  # wall time of the last good fetch
    from_cache: bool = False
    last_error: str = ""
    last_attempt: float | None = None
    next_due: float = 0.0  # monotonic

    @property
    def feed(self) -> str:
        return str(self.entry["feed"])

    @property
    def key(self) -> str:
        return feed_key(self.entry)

    def status(self) -> dict[str, Any]:
        """Return what staff and IT see of this feed."""
        return {"index": self.index, "feed": self.feed, "kind": self.entry.get("kind"),
                "offers": len(self.offers), "fetched_at": self.fetched_at,
                "from_cache": self.from_cache, "last_error": self.last_error,
                "last_attempt": self.last_attempt}


class OfferBoard:
    """All offers in configuration order; feeds' sets replaced whole on a good fetch."""

    def __init__(self, entries: list[dict[str, Any]], cache: OfferCache | None = None,
                 images: ImageStore | None = None):
        self.cache = cache
        self.images = images
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self.rows: list[Offer | FeedState] = []
        fixed = {o.source: o for o in scannable(config_offers(entries), "offers")}
        # The configured pictures' addresses: fetched by the refresher, shown once at hand.
        self.pictures = {source: o for source, o in fixed.items() if o.image}
        self._pictures_due = 0.0  # monotonic
        for i, entry in enumerate(entries):
            if entry.get("feed"):
                self.rows.append(self._restore(FeedState(index=i, entry=entry)))
            elif f"offers[{i}]" in fixed:
                self.rows.extend(self._local([fixed[f"offers[{i}]"]]))

    def _local(self, offers: list[Offer], fetch: bool = False) -> list[Offer]:
        """Return offers whose pictures the station serves (or that have none)."""
        return self.images.localise(offers, fetch) if self.images else offers

    def _restore(self, state: FeedState) -> FeedState:
        stored = self.cache.load(state.key) if self.cache else None
        if stored:
            state.fetched_at, offers = stored
            state.offers = self._local(scannable(offers, f"offers[{state.index}] cache"))
            state.from_cache = True
        return state

    @property
    def feeds(self) -> list[FeedState]:
        """Return the feeds' states."""
        return [r for r in self.rows if isinstance(r, FeedState)]

    def refresh(self, only_due: bool = False, now: dt.datetime | None = None) -> list[FeedState]:
        """Fetch every feed (or only those due); keep the last good set of any that fail."""
        self.fetch_pictures()
        done = []
        for state in self.feeds:
            if only_due and state.next_due > time.monotonic():
                continue
            self.refresh_feed(state, now=now)
            done.append(state)
        return done

    def fetch_pictures(self) -> None:
        """Fetch the configured offers' pictures not yet at hand (once each)."""
        if not self.images or time.monotonic() < self._pictures_due:
            return
        self._pictures_due = time.monotonic() + RETRY_MAX_S  # a missing one: tried again later
        for source, offer in list(self.pictures.items()):
            local = self._local([offer], fetch=True)[0]
            with self._lock:
                self.rows = [local if isinstance(r, Offer) and r.source == source else r
                             for r in self.rows]
            if local.image:
                del self.pictures[source]

    def refresh_feed(self, state: FeedState, now: dt.datetime | None = None) -> bool:
        """Fetch one feed now; return True when it gave a good set."""
        period_s = int(state.entry.get("refresh_minutes") or 60) * 60
        state.last_attempt = clock.timestamp()
        try:
            offers = scannable(load_feed(state.entry, now=now, source=f"offers[{state.index}]"),
                               f"offers[{state.index}] feed {state.feed}")
            offers = self._local(offers, fetch=True)
        except FeedError as exc:
            log.warning("offers[%d] feed %s: %s; showing the last good set (%s)",
                        state.index, state.feed, exc,
                        plural(len(state.offers), "%(num)d offer", "%(num)d offers"))
            with self._lock:
                state.last_error = str(exc)
                state.next_due = time.monotonic() + min(period_s, RETRY_MAX_S)
            return False
        except Exception as exc:  # a parser bug must not stop the refresher or the screen
            log.exception("offers[%d] feed %s: unexpected failure", state.index, state.feed)
            with self._lock:
                state.last_error = f"unexpected failure: {exc}"
                state.next_due = time.monotonic() + min(period_s, RETRY_MAX_S)
            return False
        with self._lock:
            state.offers, state.fetched_at = offers, state.last_attempt
            state.from_cache, state.last_error = False, ""
            state.next_due = time.monotonic() + period_s
        if self.cache:
            self.cache.save(state.key, state.feed, state.last_attempt, offers)
        log.info("offers[%d] feed %s: %s", state.index, state.feed,
                 plural(len(offers), "%(num)d offer", "%(num)d offers"))
        return True

    def seconds_to_next(self) -> float | None:
        """Return how long until the next feed is due, or None without feeds."""
        dues = [s.next_due for s in self.feeds]
        return max(0.0, min(dues) - time.monotonic()) if dues else None

    def all_offers(self) -> list[Offer]:
        """Return every known offer in configuration order, whatever its dates."""
        with self._lock:
            out: list[Offer] = []
            for row in self.rows:
                out.extend(row.offers if isinstance(row, FeedState) else [row])
            return out

    def showing(self, language: str | None = None,
                now: dt.datetime | None = None) -> list[Offer]:
        """Return the offers on screen at now, for language (offers without one always show)."""
        now = now or clock.now()
        return [o for o in self.all_offers()
                if o.visible(now) and (language is None or o.speaks(language))]

    def has_after_pickup(self) -> bool:
        """Return True if any known offer may follow a pickup (a cheap check on the scan path)."""
        return any(o.after_pickup for o in self.all_offers())

    def after_pickup(self, language: str | None = None,
                     now: dt.datetime | None = None) -> Offer | None:
        """Return the next after-pickup offer in turn, or None when none is configured."""
        candidates = [o for o in self.showing(language, now) if o.after_pickup]
        if not candidates:
            return None
        return candidates[next(self._turn) % len(candidates)]
