"""The scan framer's guarantees, each pinned so that a small breakage of scanparser fails a test.

Found by mutation testing (scripts/mutation.sh devices/scanparser.py, docs/testing.md): these
are the breakages the older tests let through.
"""

from __future__ import annotations

import logging

import pytest

from kiosk.devices.scanparser import ScanParser
from kiosk.domain.cards import CardReader

CARDS = CardReader([r"^N\d{9}$"])


def cards(candidates) -> list[str]:
    return [c.card for c in candidates if c.card]


def messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "kiosk.devices.scanparser"]


def test_a_line_that_starts_with_its_terminator_still_reads_the_scan():
    parser = ScanParser(CARDS, "CR")
    assert cards(parser.feed(b"\rN123456789\r", 0.0)) == ["N123456789"]
    assert cards(parser.feed(b"\r\r\rN000000001\r", 0.1)) == ["N000000001"]
    assert not parser.pending


def test_the_tail_of_an_overlong_line_is_dropped_and_the_next_scan_reads(caplog):
    caplog.set_level(logging.INFO, "kiosk.devices.scanparser")
    parser = ScanParser(CARDS, "CR", max_buffer=20)
    assert parser.feed(b"X" * 25, 0.0) == []  # overflow: the line is dropped up to its end
    assert parser.pending
    # The tail of the overlong line looks like a card: it must not be read as a scan.
    assert cards(parser.feed(b"N123456789\rN000000001\r", 0.01)) == ["N000000001"]
    assert not parser.pending
    assert messages(caplog) == ["scanner: more than 20 bytes without an end; line dropped"]


def test_an_overlong_line_that_arrives_whole_is_dropped_once_with_its_length(caplog):
    caplog.set_level(logging.INFO, "kiosk.devices.scanparser")
    parser = ScanParser(CARDS, "CR", max_buffer=20)
    out = parser.feed(b"N" + b"1" * 29 + b"\rN000000001\r", 0.0)
    assert cards(out) == ["N000000001"]
    assert messages(caplog) == ["scanner: a line of 30 bytes dropped"]


def test_without_a_terminator_the_tail_of_an_overlong_line_is_dropped_too():
    parser = ScanParser(CARDS, "none", char_timeout_s=0.1, max_buffer=20)
    assert parser.feed(b"X" * 25, 0.0) == []
    assert parser.feed(b"N123456789", 0.01) == []  # still the overlong line
    assert parser.poll(1.0) == []
    assert cards(parser.feed(b"N000000001", 2.0) + parser.poll(3.0)) == ["N000000001"]


def test_a_line_of_exactly_the_buffer_size_is_still_a_scan():
    parser = ScanParser(CARDS, "CR", max_buffer=10)
    assert parser.feed(b"N123456789", 0.0) == []
    assert cards(parser.feed(b"\r", 0.01)) == ["N123456789"]
    parser = ScanParser(CARDS, "CR", max_buffer=10)
    assert cards(parser.feed(b"N123456789\r", 0.0)) == ["N123456789"]
    parser = ScanParser(CARDS, "none", char_timeout_s=0.1, max_buffer=10)
    assert parser.feed(b"N123456789", 0.0) == []
    assert cards(parser.poll(1.0)) == ["N123456789"]


def test_a_line_quiet_for_exactly_the_timeout_ends_the_scan():
    parser = ScanParser(CARDS, "none", char_timeout_s=0.25)
    assert parser.feed(b"N123456789", 1.0) == []
    assert parser.poll(1.125) == []
    assert cards(parser.poll(1.25)) == ["N123456789"]


def test_the_defaults_are_a_cr_terminator_no_framing_and_a_tenth_of_a_second():
    parser = ScanParser(CARDS)
    assert cards(parser.feed(b"N123456789\r", 0.0)) == ["N123456789"]
    assert parser.quiet_s == 1.0  # with a terminator: ten times the timeout, at least 1 s
    assert ScanParser(CARDS, "none").quiet_s == 0.1
    # No prefix or suffix configured: nothing around the number is taken off.
    assert cards(parser.feed(b"XXXXN123456789\rN123456789XXXX\r", 0.1)) == []
    # Only line ends are taken off the line, not other characters.
    assert cards(parser.feed(b"XN123456789\r", 0.2)) == []


def test_a_configured_prefix_and_suffix_are_taken_off():
    parser = ScanParser(CARDS, "CR", prefix="]C1", suffix="#")
    assert cards(parser.feed(b"]C1N123456789#\r", 0.0)) == ["N123456789"]


def test_an_unknown_terminator_is_refused_with_the_choices_named():
    with pytest.raises(ValueError, match="^terminator must be one of CR, LF, CRLF, none$"):
        ScanParser(CARDS, "TAB")


def test_bytes_that_are_not_utf8_are_kept_raw_and_logged(caplog):
    caplog.set_level(logging.INFO, "kiosk.devices.scanparser")
    out = ScanParser(CARDS, "CR").feed(b"N12\xff\xfe\r", 0.0)
    assert [(c.raw, c.text, c.card) for c in out] == [(b"N12\xff\xfe", None, None)]
    assert messages(caplog) == ["scanner: dropped 5 bytes: not UTF-8"]


def test_a_line_that_is_no_card_is_logged_and_a_card_is_not(caplog):
    caplog.set_level(logging.INFO, "kiosk.devices.scanparser")
    parser = ScanParser(CARDS, "CR")
    assert cards(parser.feed(b"N123456789\r", 0.0)) == ["N123456789"]
    assert messages(caplog) == []
    out = parser.feed(b"hello\r", 0.1)
    assert [(c.text, c.card) for c in out] == [("hello", None)]
    assert messages(caplog) == ["scanner: dropped 5 bytes: not a card number"]
    assert [c.card for c in parser.feed(b"x\r", 0.2)] == [None]
    assert messages(caplog)[-1] == "scanner: dropped 1 byte: not a card number"


def test_a_half_scan_without_its_terminator_is_dropped_and_logged(caplog):
    caplog.set_level(logging.INFO, "kiosk.devices.scanparser")
    parser = ScanParser(CARDS, "CR")
    assert parser.feed(b"N1234", 0.0) == []
    assert parser.poll(5.0) == []
    assert not parser.pending
    assert messages(caplog) == ["scanner: dropped 5 bytes: no terminator"]
    assert cards(parser.feed(b"N123456789\r", 6.0)) == ["N123456789"]
