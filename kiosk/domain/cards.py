"""Patron card numbers: normalise what a scanner sends, accept only configured patterns."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from kiosk.domain.identifiers import is_identifier

MAX_SCAN_LENGTH = 64


class CardReader:
    """Turn raw scanner text into a card number, or None when it is not one."""

    def __init__(self, patterns: Iterable[str], strip: str = "", uppercase: bool = True):
        # re.ASCII: \d is [0-9] only, so Arabic-Indic or full-width digits are no card.
        self._patterns = [re.compile(p, re.ASCII) for p in patterns]
        self._strip = strip
        self._uppercase = uppercase

    def normalise(self, raw: str) -> str:
        """Drop whitespace, control characters and configured framing characters."""
        text = raw[: MAX_SCAN_LENGTH * 4]
        if text.isascii() and text.isalnum() and not any(c in text for c in self._strip):
            kept = text  # the usual case, checked at C speed (an import checks 100,000 cards)
            return kept.upper() if self._uppercase else kept
        kept = "".join(
            ch for ch in text
            if not ch.isspace() and unicodedata.category(ch)[0] != "C" and ch not in self._strip
        )
        return kept.upper() if self._uppercase else kept

    def card(self, raw: str) -> str | None:
        """Return the normalised card number if it matches a configured pattern."""
        if not isinstance(raw, str) or len(raw) > MAX_SCAN_LENGTH * 4:
            return None
        number = self.normalise(raw)
        if not number or len(number) > MAX_SCAN_LENGTH:
            return None
        if not is_identifier(number):  # whatever a pattern allows, a card must travel
            return None
        return number if any(p.fullmatch(number) for p in self._patterns) else None


def mask(card: str | None) -> str:
    """Return a card number fit for logs: only the last three characters shown."""
    if not card:
        return "-"
    return "*" * max(len(card) - 3, 0) + card[-3:]
