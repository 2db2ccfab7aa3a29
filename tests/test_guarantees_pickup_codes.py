"""Pickup codes' guarantees: readable, canonical, distinct, random, never one already taken.

Found by mutation testing (scripts/mutation.sh domain/pickup_codes.py, docs/testing.md). The
drawing is checked on the real 196,000 codes where that is what the guarantee is about, and on
a small space of numbers (`_draw_numbers`) for the edges, so that each mutant runs in seconds.
"""

from __future__ import annotations

import secrets

import pytest

from kiosk.domain import pickup_codes as pc

# Every code in order, built here without the module (an independent list to check it against).
EVERY = [f"{a}{b}-{n:03d}" for a in pc.LETTERS for b in pc.LETTERS for n in range(1000)]


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


def test_every_code_has_one_number_and_every_number_one_code():
    assert pc.SPACE == 14 * 14 * 1000 == len(EVERY) == len(set(EVERY))
    assert pc.all_codes() == EVERY
    for k in (*range(0, pc.SPACE, 997), 1, 999, 1000, 13_999, 14_000, 100_123, pc.SPACE - 1):
        assert pc._code(k) == EVERY[k]
        assert pc._number(EVERY[k]) == k == pc._number(EVERY[k].replace("-", ""))


def test_few_drawn_codes_are_distinct_and_none_is_taken():
    taken = set(EVERY[:1000])
    for _ in range(50):
        codes = pc.draw(16, taken)
        assert len(codes) == 16 == len(set(codes))
        assert not set(codes) & taken
        assert all(pc.CODE_RE.match(c) and c[2] == "-" for c in codes)


def test_many_drawn_codes_are_distinct_and_none_is_taken():
    taken = {"KR-472", "AA-000", "not a code", "kr-473"}
    codes = pc.draw(500, taken)
    assert len(codes) == 500 == len(set(codes))
    assert not set(codes) & taken
    assert all(pc.CODE_RE.match(c) and c[2] == "-" for c in codes)


def test_when_almost_all_codes_are_taken_the_free_ones_are_drawn():
    free = {EVERY[5], EVERY[77_777], EVERY[-1]}
    taken = set(EVERY) - free - {"ZZ-998"} | {"ZZ998"}  # a taken code typed without its dash
    assert sorted(pc.draw(3, taken)) == sorted(free)
    assert pc.draw(4, taken) is None


def test_when_almost_all_numbers_are_used_the_free_ones_are_drawn():
    used = set(range(100)) - {3, 50, 99}
    for _ in range(20):
        assert sorted(pc._draw_numbers(3, used, 100)) == [3, 50, 99]
        two = pc._draw_numbers(2, used, 100)
        assert len(set(two)) == 2 and set(two) < {3, 50, 99}
    assert pc._draw_numbers(4, used, 100) is None


def test_drawing_every_free_number_returns_each_once():
    assert sorted(pc._draw_numbers(40, set(range(60)), 100)) == list(range(60, 100))
    assert sorted(pc._draw_numbers(100, set(), 100)) == list(range(100))


def test_more_codes_than_are_free_is_none_not_a_shorter_list():
    assert pc.draw(pc.SPACE + 1, set()) is None
    assert pc._draw_numbers(1, set(range(10)), 10) is None
    assert pc._draw_numbers(11, set(), 10) is None
    assert pc.draw(0, set()) == []


@pytest.mark.parametrize("count,space", [(1, 4), (2, 4), (2, 3), (5, 8)])
def test_every_free_number_and_every_set_of_them_can_be_drawn(count, space):
    """Codes are random: every free code can come first, and every set of them can be drawn."""
    first, sets = set(), set()
    for _ in range(600):
        drawn = pc._draw_numbers(count, {0} if space == 8 else set(), space)
        first.add(drawn[0])
        sets.add(frozenset(drawn))
    free = set(range(1 if space == 8 else 0, space))
    assert first == free
    if space <= 4:  # every subset of this size (6 at most), each drawn with chance ≥ 1/6
        assert len(sets) == {(1, 4): 4, (2, 4): 6, (2, 3): 3}[(count, space)]


def _refuse(name):
    def refuse(*args):
        raise AssertionError(f"{name} was called")
    return refuse


@pytest.mark.parametrize("count,used,space", [
    (3, 195_997, pc.SPACE), (1, 50, 100), (2, 48, 100), (1, 0, 2), (17, 0, 10_000)])
def test_no_number_is_drawn_by_rejection_once_half_the_space_would_be_used(
        count, used, space, monkeypatch):
    """Drawing by rejection is only used where each try succeeds more often than not."""
    monkeypatch.setattr(secrets, "randbelow", _refuse("randbelow"))
    drawn = pc._draw_numbers(count, set(range(used)), space)
    assert len(set(drawn)) == count and min(drawn) >= used


@pytest.mark.parametrize("count,used,space", [(16, 0, 10_000), (1, 48, 100), (2, 0, 5)])
def test_up_to_16_numbers_from_a_mostly_free_space_are_drawn_without_listing_all(
        count, used, space, monkeypatch):
    monkeypatch.setattr(secrets, "token_bytes", _refuse("token_bytes"))
    drawn = pc._draw_numbers(count, set(range(used)), space)
    assert len(set(drawn)) == count and min(drawn) >= used


def test_every_pick_of_a_large_draw_is_random_not_the_lowest_free_numbers():
    """Each of many numbers drawn at once is shuffled in, not only the first few."""
    drawn = pc._draw_numbers(40, set(), 1000)
    assert len(set(drawn)) == 40
    # Shuffled in, about 31 of the last 32 are 40 or more; left in place, all would be below 40.
    assert sum(k >= 40 for k in drawn[8:]) > 16
