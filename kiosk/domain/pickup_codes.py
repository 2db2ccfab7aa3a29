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


SPACE = len(LETTERS) ** 2 * 1000  # every possible code


def _code(k: int) -> str:
    """Return the k-th of all codes (0 ≤ k < SPACE)."""
    return f"{LETTERS[k // 14_000]}{LETTERS[k // 1000 % 14]}-{k % 1000:03d}"


def _number(code: str) -> int:
    """Return the position of a code (with or without its dash) among all codes."""
    return (LETTERS.index(code[0]) * 14 + LETTERS.index(code[1])) * 1000 + int(code[-3:])


def all_codes() -> list[str]:
    """Return every possible pickup code."""
    return [_code(k) for k in range(SPACE)]


def draw(count: int, taken: set[str]) -> list[str] | None:
    """Return count distinct random codes none of which is in taken; None if too few are free."""
    picked = _draw_numbers(count, {_number(c) for c in taken if CODE_RE.match(c)}, SPACE)
    return None if picked is None else [_code(k) for k in picked]


def _draw_numbers(count: int, used: set[int], space: int) -> list[int] | None:
    """Return count distinct random numbers below space, none in used; None if too few are free.

    Up to 16 numbers are drawn one by one, skipping used ones, while more than half of the
    space stays free (so each needs fewer than two tries on average); otherwise the free
    numbers are listed and partly shuffled from one read of the system's random source.
    """
    if count > space - len(used):
        return None
    if count <= 16 and (count + len(used)) * 2 < space:
        drawn: dict[int, None] = {}
        while len(drawn) < count:
            k = secrets.randbelow(space)
            if k not in used:
                drawn[k] = None
        return list(drawn)
    free = [k for k in range(space) if k not in used]
    noise = secrets.token_bytes(8 * count)  # 64 bits per pick: the modulo bias is nil
    for i in range(count):
        j = i + int.from_bytes(noise[8 * i:8 * i + 8]) % (len(free) - i)
        free[i], free[j] = free[j], free[i]
    return free[:count]
