"""Pickup codes: format, parsing, and uniqueness among open orders."""

from __future__ import annotations

import re

from factories import make_order

from kiosk.domain import pickup_codes


def test_codes_are_two_clear_letters_and_three_digits():
    for _ in range(200):
        code = pickup_codes.new_code()
        assert re.fullmatch(r"[AFHJKLMNRSUXYZ]{2}-\d{3}", code)


def test_typed_codes_are_canonicalised():
    assert pickup_codes.parse_code("kr472") == "KR-472"
    assert pickup_codes.parse_code(" KR-472 ") == "KR-472"
    assert pickup_codes.parse_code("BD-123") is None  # B and D are not used
    assert pickup_codes.parse_code("KR-47") is None


def test_codes_are_unique_among_open_orders(session, monkeypatch):
    first = make_order(session)
    drawn = iter([first.pickup_code, first.pickup_code, "ZZ-999"])
    monkeypatch.setattr(pickup_codes, "new_code", lambda: next(drawn))
    second = make_order(session)
    assert second.pickup_code == "ZZ-999"


def test_a_closed_orders_code_may_be_reused(session, monkeypatch):
    first = make_order(session, status="cancelled")
    monkeypatch.setattr(pickup_codes, "new_code", lambda: first.pickup_code)
    assert make_order(session).pickup_code == first.pickup_code
