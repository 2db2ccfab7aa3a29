"""Patron checks at scan time: blocked or invalid cards see staff; an optional PIN first.

Both are `station.lookup_hooks`: they change the scan result in place and never
raise, so a slow or absent ILS never stops a patron from seeing their slots (the
patron check is skipped when the ILS does not answer).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from kiosk.domain.cards import mask
from kiosk.domain.lookup import LookupResult
from kiosk.ils.client import LinkDown, LoginRefused
from kiosk.ils.link import IlsLink, PatronInfo

log = logging.getLogger(__name__)

SEE_STAFF = "see_staff"
PIN_REQUIRED = "pin_required"
PIN_LOCKED = "pin_locked"


def notice_for(info: PatronInfo) -> str | None:
    """Return "see_staff" when the ILS says the card is invalid or blocked."""
    return None if info.may_borrow else SEE_STAFF


def patron_check_hook(link: IlsLink):
    """Return a lookup hook adding "see_staff" for a blocked or invalid patron."""

    def hook(_session: Any, card: str, result: LookupResult) -> None:
        try:
            info = link.patron(card)
        except (LinkDown, LoginRefused) as exc:
            log.debug("patron check skipped: %s", exc)
            return
        notice = notice_for(info)
        if notice and notice not in result.notices:
            log.info("card %s: the ILS says see staff", mask(card))
            result.notices.append(notice)

    return hook


class PinGuard:
    """Count wrong PINs per card; lock a card for a while after too many."""

    def __init__(self, attempts: int = 3, lock_s: float = 900.0, verified_s: float = 120.0):
        self.attempts, self.lock_s, self.verified_s = attempts, lock_s, verified_s
        self._wrong: dict[str, list[float]] = {}
        self._verified: dict[str, float] = {}
        self._lock = threading.Lock()

    def locked(self, card: str) -> bool:
        """Return True while the card is locked out after wrong PINs."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._wrong.get(card, []) if now - t < self.lock_s]
            self._wrong[card] = recent
            return len(recent) >= self.attempts

    def wrong(self, card: str) -> int:
        """Note a wrong PIN; return how many tries are left."""
        with self._lock:
            self._wrong.setdefault(card, []).append(time.monotonic())
            return max(self.attempts - len(self._wrong[card]), 0)

    def right(self, card: str) -> None:
        """Note a right PIN: wrong tries forgotten, the card verified for a short while."""
        with self._lock:
            self._wrong.pop(card, None)
            self._verified[card] = time.monotonic()
            if len(self._verified) > 1000:
                self._verified.clear()

    def verified(self, card: str) -> bool:
        """Return True if the card's PIN was given within the last verified_s seconds."""
        with self._lock:
            at = self._verified.get(card)
        return at is not None and time.monotonic() - at < self.verified_s

    def forget(self, card: str) -> None:
        """End the card's verified spell (its screen went idle or it was used)."""
        with self._lock:
            self._verified.pop(card, None)


def pin_gate_hook(guard: PinGuard):
    """Return a lookup hook hiding everything until the card's PIN was given.

    A right PIN opens one patron session: the lookup the PIN itself asks for (POST
    /kiosk/pin). It is forgotten there, so a new scan of the card (a new session, whoever
    holds the card) asks for the PIN again, and nothing is left open when the screen idles.
    """

    def hook(_session: Any, card: str, result: LookupResult) -> None:
        if guard.verified(card):
            guard.forget(card)
            return
        result.pickups, result.waiting, result.name = [], 0, None
        result.outcome = PIN_REQUIRED
        result.notices[:] = [PIN_LOCKED if guard.locked(card) else PIN_REQUIRED]

    return hook
