"""The scan framer: terminators, timeouts, prefix/suffix, noise, overlong lines, fuzzing."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.devices.scanparser import ScanParser
from kiosk.domain.cards import CardReader

CARDS = CardReader([r"^N\d{9}$"])
CARD = re.compile(r"^N\d{9}$")


def cards(candidates) -> list[str]:
    return [c.card for c in candidates if c.card]


@pytest.mark.parametrize("terminator,end", [("CR", b"\r"), ("LF", b"\n"), ("CRLF", b"\r\n")])
def test_each_terminator_ends_a_scan(terminator, end):
    parser = ScanParser(CARDS, terminator)
    assert parser.feed(b"N123456789", 0.0) == []
    out = parser.feed(end, 0.01)
    assert cards(out) == ["N123456789"]
    assert out[0].raw == b"N123456789"
    assert not parser.pending


def test_crlf_from_a_scanner_set_to_cr_still_reads():
    parser = ScanParser(CARDS, "CR")
    assert cards(parser.feed(b"N000000001\r\nN000000002\r\n", 0.0)) == ["N000000001", "N000000002"]


def test_no_terminator_a_quiet_line_ends_the_scan():
    parser = ScanParser(CARDS, "none", char_timeout_s=0.1)
    assert parser.feed(b"N1234", 0.00) == []
    assert parser.feed(b"56789", 0.05) == []
    assert parser.poll(0.12) == []  # 70 ms since the last byte: still the same scan
    assert cards(parser.poll(0.16)) == ["N123456789"]
    assert not parser.pending


def test_no_terminator_two_scans_apart_in_time():
    parser = ScanParser(CARDS, "none", char_timeout_s=0.1)
    parser.feed(b"N000000001", 0.0)
    assert cards(parser.feed(b"N000000002", 0.5)) == ["N000000001"]
    assert cards(parser.poll(0.7)) == ["N000000002"]


def test_split_and_merged_scans():
    parser = ScanParser(CARDS, "CR")
    out = parser.feed(b"N0000", 0.0) + parser.feed(b"00001\rN000000002\rN00", 0.01)
    out += parser.feed(b"0000003\r", 0.02)
    assert cards(out) == ["N000000001", "N000000002", "N000000003"]


def test_garbage_and_non_utf8_are_dropped_but_reported():
    parser = ScanParser(CARDS, "CR")
    out = parser.feed(b"\x00\x1b[2J\r\xff\xfeN1\xc3\r123\rN000000004\r", 0.0)
    assert cards(out) == ["N000000004"]
    problems = [c.problem for c in out if not c.card]
    assert problems == ["not a valid card number", "not UTF-8", "not a valid card number"]


def test_prefix_and_suffix_are_stripped():
    parser = ScanParser(CARDS, "CR", prefix="\x02", suffix="]")
    assert cards(parser.feed(b"\x02N000000005]\r", 0.0)) == ["N000000005"]
    assert cards(parser.feed(b"N000000006\r", 0.1)) == ["N000000006"]  # framing is optional


def test_overlong_line_is_dropped_up_to_its_end():
    parser = ScanParser(CARDS, "CR")
    out = parser.feed(b"9" * 6_000, 0.0) + parser.feed(b"8" * 6_000 + b"N000000007\r", 0.01)
    assert out == []  # the card at the tail belongs to the broken line
    assert cards(parser.feed(b"N000000008\r", 0.02)) == ["N000000008"]


def test_overlong_line_without_terminator_mode():
    parser = ScanParser(CARDS, "none", char_timeout_s=0.1)
    assert parser.feed(b"x" * 10_001, 0.0) == []
    assert parser.poll(0.5) == []
    parser.feed(b"N000000009", 1.0)
    assert cards(parser.poll(1.2)) == ["N000000009"]


def test_a_half_scan_left_alone_does_not_spoil_the_next():
    parser = ScanParser(CARDS, "CR", char_timeout_s=0.1)
    parser.feed(b"N0000", 0.0)
    assert cards(parser.feed(b"N000000010\r", 5.0)) == ["N000000010"]


def test_unknown_terminator_is_refused():
    with pytest.raises(ValueError):
        ScanParser(CARDS, "ETX")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=64), st.floats(0, 0.5)), max_size=20),
       st.sampled_from(["CR", "LF", "CRLF", "none"]))
def test_fuzz_never_raises_and_yields_only_valid_cards(chunks, terminator):
    parser = ScanParser(CARDS, terminator, prefix="\x02", max_buffer=200)
    now, out = 0.0, []
    for data, gap in chunks:
        now += gap
        out += parser.feed(data, now)
    out += parser.poll(now + 10)
    for candidate in out:
        assert candidate.card is None or CARD.fullmatch(candidate.card)
        assert candidate.card is None or CARDS.card(candidate.card) == candidate.card


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 999_999_999), min_size=1, max_size=10),
       st.lists(st.integers(1, 10), max_size=10))
def test_fuzz_valid_scans_survive_any_split(numbers, cuts):
    stream = b"".join(f"N{n:09d}\r".encode() for n in numbers)
    parser = ScanParser(CARDS, "CR")
    out, pos, now = [], 0, 0.0
    for cut in cuts + [len(stream)]:
        out += parser.feed(stream[pos:pos + cut], now)
        pos += cut
        now += 0.001
    out += parser.feed(stream[pos:], now)
    assert cards(out) == [f"N{n:09d}" for n in numbers]
