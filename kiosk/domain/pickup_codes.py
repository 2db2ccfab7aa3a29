"""Pseudonymous pickup codes ("hentenummer"): short, easy to read aloud, no patron data.

A code is two letters and three digits, e.g. ``KR-472``. The letters come from
a set whose spoken names are hard to confuse in Norwegian and English
(no B/D/P/T/V/E/G/C, no I/O that look like digits). Codes are random, so they
say nothing about the patron, the order or its time; uniqueness among orders
not yet closed is guaranteed by a partial unique index on the orders table.
"""

from __future__ import annotations

import re
import secrets

LETTERS = "AFHJKLMNRSUXYZ"
CODE_RE = re.compile(rf"^[{LETTERS}]{{2}}-?\d{{3}}$")


def new_code() -> str:
    """Return a fresh random pickup code."""
    letters = "".join(secrets.choice(LETTERS) for _ in range(2))
    return f"{letters}-{secrets.randbelow(1000):03d}"


def parse_code(text: str) -> str | None:
    """Return the canonical form of a typed or scanned pickup code, or None."""
    t = "".join(text.split()).upper()
    if not CODE_RE.match(t):
        return None
    return t if "-" in t else f"{t[:2]}-{t[2:]}"
