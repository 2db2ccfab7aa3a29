"""The SIP2 codec: published vectors, checksums, and pysip2 as an independent reader."""

from __future__ import annotations

import pysip2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pysip2 import (
    CheckoutResponse,
    PatronInformationResponse,
    decode_message,
    encode_message,
)

from kiosk.ils import sip2

NOW = "20260105    101500"


@pytest.mark.parametrize("frame", [b"9900401.00AY1AZFCA5\r", b"96AZFEF6\r"])
def test_published_vectors_verify(frame):
    assert sip2.verify(frame)


def test_encoder_reproduces_the_published_vectors():
    assert sip2.encode("99", ["0", "040", "1.00"], [], sequence=1,
                       encoding="ascii") == b"9900401.00AY1AZFCA5\r"
    assert sip2.encode("96", [], [], sequence=None, encoding="ascii") == b"96AZFEF6\r"


def test_a_changed_byte_fails_the_checksum():
    with pytest.raises(sip2.ChecksumError):
        sip2.decode(b"9400AY1AZFCA5\r", encoding="ascii")
    assert not sip2.verify(b"9900401.01AY1AZFCA5")


@given(st.binary(min_size=1, max_size=300))
def test_checksum_agrees_with_pysip2_and_is_four_padded_hex(data):
    ours = sip2.checksum(data)
    assert ours == pysip2.calculate_checksum(data)
    assert len(ours) == 4 and ours == ours.upper()
    assert (sum(data) + int(ours, 16)) & 0xFFFF == 0


def test_small_checksums_are_zero_padded():
    # a checksum below 0x1000 needs a byte sum just under a multiple of 0x10000
    frames = (sip2.encode(*sip2.login("~" * 250, "~" * 240, "a" * n), sequence=1,
                          encoding="ascii") for n in range(255))
    frame = next(f for f in frames if f[-5:-4] == b"0")  # checksum below 0x1000
    digits = frame[-5:-1]
    assert len(digits) == 4 and digits.startswith(b"0") and frame[-7:-5] == b"AZ"
    assert sip2.verify(frame)
    assert decode_message(frame, encoding="ascii").checksum == digits.decode()


REQUESTS = [
    sip2.login("kiosk", "pw", "hall"),
    sip2.sc_status(),
    sip2.patron_information("lib", "N123456789", terminal_password="t", summary="hold"),
    sip2.patron_information("lib", "N123456789", patron_password="1234"),
    sip2.patron_status("lib", "N123456789", terminal_password="t"),
    sip2.checkout("lib", "N123456789", "03000001", terminal_password="t"),
    sip2.end_session("lib", "N123456789"),
]


@pytest.mark.parametrize("parts", REQUESTS, ids=lambda p: p[0])
def test_pysip2_reads_every_request_we_build(parts):
    frame = sip2.encode(*parts, sequence=7, encoding="utf-8")
    decoded = decode_message(frame, encoding="utf-8")
    assert decoded.sequence_number == 7 and decoded.checksum == frame[-5:-1].decode()
    assert pysip2.models.spec_for_type(type(decoded.message)).command_id == parts[0]


def test_checkout_carries_terminal_password_and_real_dates():
    frame = sip2.encode(*sip2.checkout("lib", "N1", "I1"), sequence=1, encoding="utf-8")
    message = decode_message(frame, encoding="utf-8").message
    assert message.terminal_password == "" and message.sc_renewal_policy == "Y"
    assert message.nb_due_date[:8].isdigit()


def test_patron_information_asks_for_the_hold_items():
    frame = sip2.encode(*sip2.patron_information("lib", "N1", summary="hold", end_item=9),
                        sequence=2, encoding="utf-8")
    message = decode_message(frame, encoding="utf-8").message
    assert message.summary == "Y" + " " * 9
    assert (message.start_item, message.end_item) == ("1", "9")


def _patron_response(name: str, holds=()):
    return PatronInformationResponse(
        patron_status="Y" + " " * 13, language="000", transaction_date=NOW,
        hold_items_count=f"{len(holds):04d}", overdue_items_count="0000",
        charged_items_count="0000", fine_items_count="0000", recall_items_count="0000",
        unavailable_holds_count="0000", institution_id="lib", patron_identifier="N1",
        personal_name=name, valid_patron="Y", valid_patron_password="N",
        hold_items=tuple(holds), screen_message=("Kort sperret", "se skranken"))


def test_we_read_pysip2s_patron_information_with_hold_items():
    frame = encode_message(_patron_response("Per", ["0301", "0302"]), sequence_number=3,
                           checksum=True, encoding="utf-8")
    reply = sip2.decode(frame, encoding="utf-8")
    assert reply.command == "64" and reply.sequence == 3
    assert reply.fixed["hold_items_count"] == "0002"
    assert reply.get_all("AS") == ["0301", "0302"]
    assert reply.get("BL") == "Y" and reply.get("CQ") == "N"
    assert reply.fixed["patron_status"][0] == "Y"
    assert reply.screen_message == "Kort sperret se skranken"


def test_we_read_a_checkout_answer():
    frame = encode_message(CheckoutResponse(
        ok="1", renewal_ok="N", magnetic_media="N", desensitize="Y", transaction_date=NOW,
        institution_id="lib", patron_identifier="N1", item_identifier="I1",
        title_identifier="T", due_date="20260201    235900"), sequence_number=4,
        checksum=True, encoding="utf-8")
    reply = sip2.decode(frame, encoding="utf-8")
    assert reply.flag("ok") and not reply.flag("renewal_ok")
    assert reply.get("AH") == "20260201    235900"


@pytest.mark.parametrize("encoding", ["utf-8", "cp850", "latin-1"])
def test_norwegian_letters_survive_both_ways(encoding):
    name = "Åse Ødegård, Ærøy"
    frame = sip2.encode(*sip2.patron_information("bibliotek", "Blåbær-1"), sequence=5,
                        encoding=encoding)
    assert decode_message(frame, encoding=encoding).message.patron_identifier == "Blåbær-1"
    answer = encode_message(_patron_response(name), sequence_number=5, checksum=True,
                            encoding=encoding)
    assert sip2.decode(answer, encoding=encoding).get("AE") == name


def test_values_with_field_delimiter_or_cr_are_refused():
    for bad in ("a|b", "a\rb"):
        with pytest.raises(ValueError):
            sip2.encode(*sip2.checkout("lib", "N1", bad), sequence=1, encoding="utf-8")


@pytest.mark.parametrize("frame", [b"64Y  \r", b"9\r", b"12", b"XX1AY1AZ0000\r"])
def test_malformed_frames_raise_frame_errors(frame):
    with pytest.raises(sip2.FrameError):
        sip2.decode(frame, encoding="utf-8")


def test_frame_without_checksum_is_refused_when_required():
    with pytest.raises(sip2.ChecksumError):
        sip2.decode(b"941\r", encoding="ascii", require_checksum=True)
    assert sip2.decode(b"941\r", encoding="ascii").flag("ok")
