"""The characters an identifier may hold, and those free text may not, checked at every door.

Item barcodes, card numbers, order refs and pickup codes travel: to the library system in
SIP2 fields (where `|` ends a field and CR a message), onto printed slips and into scans.
They are printable ASCII (space to tilde) without `|`. Free text (titles, names, notes,
branches) may be in any script, but not hold what cannot be shown or stored: control
characters (NUL, ESC, BEL...; tab and line breaks are kept), invisible format characters
(zero-width spaces and joiners, bidi overrides and isolates such as U+202E) and lone
surrogates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from kiosk.domain.messages import N_

IDENTIFIER = re.compile(r"[\x20-\x7b\x7d\x7e]*")  # printable ASCII, `|` (0x7c) left out
# Cc control, Cf format (zero-width, bidi), Cs surrogate, Zl/Zp line and paragraph breaks.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# A title may run over lines (a quoted CSV field, a spreadsheet cell): tab, CR and LF hide
# nothing and reorder nothing, so free text keeps them; identifiers never hold them.
_LINE_BREAKS = frozenset("\t\r\n")

NOT_AN_IDENTIFIER = N_("The value in %(column)s may hold only printable ASCII characters "
                       "(no |, no letters outside A-Z)")
BAD_TEXT = N_("The value in %(column)s holds a control, invisible or direction-changing "
              "character (%(char)s)")


def is_identifier(value: str) -> bool:
    """Return True if value is printable ASCII without `|`."""
    return IDENTIFIER.fullmatch(value) is not None


def bad_character(value: str) -> str | None:
    """Return the first character free text may not hold, as U+XXXX, or None."""
    if value.isascii() and value.isprintable():  # the usual case, at C speed
        return None
    for ch in value:
        if unicodedata.category(ch) in _REFUSED_CATEGORIES and ch not in _LINE_BREAKS:
            return f"U+{ord(ch):04X}"
    return None


def identifier_problem(value: str | None, column: str) -> tuple[str, dict[str, str]] | None:
    """Return (template, params) when value is not an identifier, else None."""
    if value is None or is_identifier(value):
        return None
    return NOT_AN_IDENTIFIER, {"column": column}


def text_problem(value: str | None, column: str) -> tuple[str, dict[str, str]] | None:
    """Return (template, params) when free text holds a refused character, else None."""
    char = bad_character(value) if value else None
    if char is None:
        return None
    return BAD_TEXT, {"column": column, "char": char}


def order_problems(card: str | None, ref: str | None, branch: str | None,
                   patron_name: str | None, items: Iterable[tuple[str, str | None]]
                   ) -> list[tuple[str, str, dict[str, str]]]:
    """Return (column, template, params) for each value of a new order that may not travel.

    items: (barcode, title) pairs; their columns are named items[i].barcode and .title.
    """
    found = []
    for column, value, check in (("card", card, identifier_problem),
                                 ("ref", ref, identifier_problem),
                                 ("branch", branch, text_problem),
                                 ("patron_name", patron_name, text_problem)):
        problem = check(value, column)
        if problem:
            found.append((column, *problem))
    for i, (barcode, title) in enumerate(items):
        for column, value, check in ((f"items[{i}].barcode", barcode, identifier_problem),
                                     (f"items[{i}].title", title, text_problem)):
            problem = check(value, column)
            if problem:
                found.append((column, *problem))
    return found
