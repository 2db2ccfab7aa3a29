"""A pseudo-locale for tests: every text of messages.pot, marked ⟦like this⟧.

Built at test time from kiosk/translations/messages.pot and compiled with Babel into a
temporary translations folder. Pages served in it show every translated text between
⟦ and ⟧ (placeholders kept, so filled-in values stay inside the marks); any visible
letters outside the marks came from a text that never went through gettext.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

POT = Path(__file__).parent.parent / "kiosk" / "translations" / "messages.pot"
# A real Babel locale (dates and numbers need one) that the station ships no catalogue
# for: only this test's folder has it, so every text shown in it went through the marks.
CODE = "eo"
OPEN, CLOSE = "⟦", "⟧"

# Find-and-strip the marks from text, innermost first (a status name inside a message).
_MARKED = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")


def mark(text: str) -> str:
    return f"{OPEN}{text}{CLOSE}"


def build(folder: Path) -> Path:
    """Write the pseudo-locale's compiled catalogue under folder; return folder."""
    with POT.open("rb") as fh:
        template = read_po(fh)
    catalog = Catalog(locale=CODE, domain="messages")
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, tuple | list):
            singular, plural = message.id
            catalog.add((singular, plural), (mark(singular), mark(plural)),
                        flags=message.flags)
        else:
            catalog.add(message.id, mark(message.id), flags=message.flags)
    out = folder / CODE / "LC_MESSAGES"
    out.mkdir(parents=True, exist_ok=True)
    with (out / "messages.mo").open("wb") as fh:
        write_mo(fh, catalog)
    return folder


def unmarked(text: str, data_values: list[str] = ()) -> list[str]:
    """Return the words of text outside the marks that are not data.

    Data: any word with a digit in it (numbers, dates, times, pickup codes, slot labels,
    card numbers) and the given data values (names and titles the test data holds).
    Punctuation and symbols are never words.
    """
    rest, previous = text, None
    while rest != previous:
        previous, rest = rest, _MARKED.sub(" ", rest)
    for value in sorted(data_values, key=len, reverse=True):
        if value:  # whole words only: the shelf "A" is no licence for the A in "Avbryt"
            rest = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", " ", rest)
    return [word for word in re.split(r"\s+", rest)
            if re.search(r"[^\W\d_]", word) and not re.search(r"\d", word)]
