"""Pickup codes' guarantees: readable, canonical, distinct, never one already taken.

Found by mutation testing (scripts/mutation.sh domain/pickup_codes.py, docs/testing.md).
"""

from __future__ import annotations

import pytest

from kiosk.domain import pickup_codes as pc


@pytest.fixture(scope="module")
def every() -> list[str]:
    """Every code, listed once for the module (196,000 of them)."""
    return pc.all_codes()


def test_a_new_code_is_two_unconfusable_letters_a_dash_and_three_digits():
    codes = {pc.new_code() for _ in range(2000)}
    assert all(pc.CODE_RE.match(c) and c[2] == "-" and len(c) == 6 for c in codes)
    assert {c[0] for c in codes} == set(pc.LETTERS)  # every letter is used, first and second
    assert {c[1] for c in codes} == set(pc.LETTERS)
    assert any(c[3] == "0" for c in codes)  # zero-padded numbers


@pytest.mark.parametrize("typed,code", [
    ("KR-472", "KR-472"), ("kr472", "KR-472"), (" k r - 4 7 2 ", "KR-472"), ("ZZ-000", "ZZ-000"),
])
def test_a_typed_code_reads_in_its_canonical_form(typed, code):
    assert pc.parse_code(typed) == code


@pytest.mark.parametrize(
    "typed", ["BR-472", "KR-47", "KR-4721", "XKR-472", "KR--472", "", "KR_472"])
def test_what_is_not_a_code_reads_as_none(typed):
    assert pc.parse_code(typed) is None


def test_every_code_has_one_number_and_every_number_one_code(every):
    assert pc.SPACE == 14 * 14 * 1000
    assert pc._code(0) == "AA-000" and pc._code(pc.SPACE - 1) == "ZZ-999"
    assert pc._code(14_000 + 2 * 1000 + 7) == "FH-007"
    codes = every
    assert len(codes) == pc.SPACE == len(set(codes))
    for k in (0, 1, 999, 1000, 13_999, 14_000, 100_123, pc.SPACE - 1):
        assert pc._number(codes[k]) == k


def test_few_drawn_codes_are_distinct_and_none_is_taken(every):
    taken = set(every[:1000])
    for _ in range(50):
        codes = pc.draw(16, taken)
        assert len(codes) == 16 == len(set(codes))
        assert not set(codes) & taken
        assert all(pc.CODE_RE.match(c) for c in codes)


def test_many_drawn_codes_are_distinct_and_none_is_taken():
    taken = {"KR-472", "AA-000", "not a code", "kr-473"}
    codes = pc.draw(500, taken)
    assert len(codes) == 500 == len(set(codes))
    assert not set(codes) & taken
    assert all(pc.CODE_RE.match(c) and c[2] == "-" for c in codes)


def test_when_almost_all_codes_are_taken_the_free_ones_are_drawn(every):
    free = {every[5], every[77_777], every[-1]}
    taken = set(every) - free
    assert sorted(pc.draw(3, taken)) == sorted(free)
    assert set(pc.draw(2, taken)) < free
    assert pc.draw(4, taken) is None


def test_drawing_every_free_code_returns_each_once(every):
    taken = set(every[: pc.SPACE - 40])
    codes = pc.draw(40, taken)
    assert sorted(codes) == sorted(every[pc.SPACE - 40:])


def test_more_codes_than_are_free_is_none_not_a_shorter_list(every):
    assert pc.draw(pc.SPACE + 1, set()) is None
    assert pc.draw(1, set(every)) is None
    assert pc.draw(0, set()) == []
