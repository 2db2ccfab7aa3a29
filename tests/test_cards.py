"""Card numbers: normalisation and the configured patterns."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.domain.cards import CardReader, mask

NORWAY = CardReader([r"^N\d{9}$"])


@pytest.mark.parametrize("raw", ["N123456789", "n123456789", " N123456789\r\n",
                                 "\x02N123456789\x03", "N 123 456 789", "\tN123456789\x00"])
def test_scanner_noise_is_normalised_away(raw):
    assert NORWAY.card(raw) == "N123456789"


@pytest.mark.parametrize("raw", ["", "N12345678", "N1234567890", "X123456789", "123456789",
                                 "N12345678O", "N" + "1" * 5000, "Ｎ123456789"])
def test_other_text_is_not_a_card(raw):
    assert NORWAY.card(raw) is None


def test_configured_strip_characters_and_case():
    reader = CardReader([r"^[0-9]{14}$", r"^N\d{9}$"], strip="%?;", uppercase=True)
    assert reader.card("%23456789012345?") == "23456789012345"
    assert reader.card(";n123456789?") == "N123456789"


def test_case_kept_when_not_uppercasing():
    reader = CardReader([r"^lib\d{4}$"], uppercase=False)
    assert reader.card("lib1234") == "lib1234"
    assert reader.card("LIB1234") is None


@given(st.text(max_size=300))
def test_only_matching_numbers_come_out(text):
    out = NORWAY.card(text)
    assert out is None or (len(out) == 10 and out[0] == "N" and out[1:].isdigit())


def test_mask_keeps_only_the_last_three():
    assert mask("N123456789") == "*******789"
    assert mask(None) == "-"
