"""Frame a scanner's byte stream into candidate scans, incrementally and without surprises.

A serial line is noisy: scans arrive cut in half or two in one read, with garbage,
overlong lines and bytes that are not UTF-8. `ScanParser.feed` takes whatever bytes
arrived and returns the complete candidates; it never raises on any input.

Decision: the parser yields *every* framed candidate, each carrying `card` (the
normalised card number when the CardReader accepts it, else None). The reader passes
only candidates with a card on to the station and logs the rest; `kiosk scanner-test`
shows them all, which is what IT needs while setting a scanner up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from kiosk.domain.cards import CardReader
from kiosk.domain.messages import plural

log = logging.getLogger(__name__)

TERMINATORS: dict[str, bytes | None] = {"CR": b"\r", "LF": b"\n", "CRLF": b"\r\n", "none": None}
MAX_BUFFER = 10_000  # bytes without a terminator before the line is dropped


@dataclass(frozen=True)
class Candidate:
    """One framed scan: the raw bytes, their text (None if not UTF-8) and the card, if valid."""

    raw: bytes
    text: str | None
    card: str | None

    @property
    def problem(self) -> str | None:
        """Return why this candidate is not a card, or None when it is one."""
        if self.card:
            return None
        return "not UTF-8" if self.text is None else "not a valid card number"


class ScanParser:
    """Turn bytes into candidate scans: terminator framing or an inter-character timeout."""

    def __init__(self, cards: CardReader, terminator: str = "CR", prefix: str = "",
                 suffix: str = "", char_timeout_s: float = 0.1, max_buffer: int = MAX_BUFFER):
        if terminator not in TERMINATORS:
            raise ValueError(f"terminator must be one of {', '.join(TERMINATORS)}")
        self.cards = cards
        self.terminator = TERMINATORS[terminator]
        self.prefix = prefix
        self.suffix = suffix
        self.char_timeout_s = char_timeout_s
        self.max_buffer = max_buffer
        self._buffer = bytearray()
        self._last_byte_at: float | None = None
        self._discarding = False  # the rest of an overlong line is dropped up to its end

    @property
    def pending(self) -> bool:
        """Tell whether bytes are waiting for their end."""
        return bool(self._buffer) or self._discarding

    def feed(self, data: bytes, now: float) -> list[Candidate]:
        """Add bytes that arrived at `now` (monotonic seconds); return completed candidates."""
        out = self.poll(now)
        if not data:
            return out
        self._last_byte_at = now
        if self.terminator is None:
            self._append(data)
            return out
        self._buffer += data
        while (end := self._buffer.find(self.terminator)) >= 0:
            chunk = bytes(self._buffer[:end])
            del self._buffer[: end + len(self.terminator)]
            if self._discarding or len(chunk) > self.max_buffer:
                if not self._discarding:
                    log.warning("scanner: a line of %d bytes dropped", len(chunk))
                self._discarding = False
                continue
            if chunk:
                out.append(self._candidate(chunk))
        if len(self._buffer) > self.max_buffer:
            self._overflow()
        return out

    @property
    def quiet_s(self) -> float:
        """Return how long the line must be quiet before pending bytes end (or are dropped)."""
        if self.terminator is None:
            return self.char_timeout_s
        return max(self.char_timeout_s * 10, 1.0)  # a scanner sends a scan in one burst

    def poll(self, now: float) -> list[Candidate]:
        """Return the pending scan once the line was quiet long enough (terminator none).

        With a terminator, bytes left without one after a quiet spell are noise or a
        half scan; they are dropped so they cannot spoil the next scan.
        """
        if self._last_byte_at is None or now - self._last_byte_at < self.quiet_s:
            return []
        self._last_byte_at = None
        self._discarding = False
        chunk, self._buffer = bytes(self._buffer), bytearray()
        if self.terminator is not None:
            # A scanner configured for a terminator that never sent one: a half scan.
            if chunk:
                log.info("scanner: dropped %s: no terminator", _bytes(len(chunk)))
            return []
        return [self._candidate(chunk)] if chunk else []

    def _append(self, data: bytes) -> None:
        if self._discarding:
            return
        self._buffer += data
        if len(self._buffer) > self.max_buffer:
            self._overflow()

    def _overflow(self) -> None:
        log.warning("scanner: more than %d bytes without an end; line dropped", self.max_buffer)
        self._buffer.clear()
        self._discarding = True

    def _candidate(self, chunk: bytes) -> Candidate:
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            log.info("scanner: dropped %s: not UTF-8", _bytes(len(chunk)))
            return Candidate(chunk, None, None)
        stripped = text.strip("\r\n")
        if self.prefix and stripped.startswith(self.prefix):
            stripped = stripped[len(self.prefix):]
        if self.suffix and stripped.endswith(self.suffix):
            stripped = stripped[: -len(self.suffix)]
        card = self.cards.card(stripped)
        if card is None:
            log.info("scanner: dropped %s: not a card number", _bytes(len(chunk)))
        return Candidate(chunk, text, card)


def _bytes(n: int) -> str:
    return plural(n, "%(num)d byte", "%(num)d bytes")
