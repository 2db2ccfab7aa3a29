"""SIP2 framing guarantees: every frame we send is whole and checksummed, every frame we read
is checked, and a bad frame is a clear FrameError, never a wrong reading.

Written for mutation testing (scripts/mutation.sh ils/sip2.py, docs/testing.md).
"""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.ils import sip2


def frame(body: bytes) -> bytes:
    """Return body with its AZ checksum and CR, as an ILS sends it."""
    body += b"AZ"
    return body + sip2.checksum(body).encode() + b"\r"


def test_verify_accepts_lower_case_hex_and_no_cr_and_refuses_what_is_not_a_checksum():
    good = frame(b"9400AY1")
    assert sip2.verify(good) and sip2.verify(good[:-1])
    assert sip2.verify(good[:-5] + good[-5:-1].lower())
    assert not sip2.verify(b"AZ00\r")  # too short to hold AZxxxx
    assert not sip2.verify(good[:-7] + b"AX" + good[-5:])  # no AZ
    assert not sip2.verify(good[:-5] + b"00G0\r")  # not hex
    assert sip2.verify(b"AZ" + sip2.checksum(b"AZ").encode())  # the shortest: AZ and 4 digits


def test_a_request_is_refused_for_a_bad_command_id():
    for command in ("1", "123", "ab", "9a"):
        with pytest.raises(ValueError, match="bad command id"):
            sip2.encode(command, [], [], sequence=1, encoding="ascii")


def test_a_value_with_a_delimiter_cr_lf_or_nul_is_refused_in_fixed_and_identified_fields():
    for bad in ("a|b", "a\rb", "a\nb", "a\0b"):
        with pytest.raises(ValueError, match=r"^field AA may not contain '\|', CR, LF or NUL$"):
            sip2.encode("63", [], [("AA", bad)], sequence=1, encoding="ascii")
        with pytest.raises(ValueError, match="^field fixed may not"):
            sip2.encode("63", [bad], [], sequence=1, encoding="ascii")


def test_a_request_carries_its_sequence_modulo_ten_and_absent_fields_are_left_out():
    out = sip2.encode("17", ["x"], [("AO", "lib"), ("AC", None), ("AB", "1")], sequence=13,
                      encoding="ascii")
    assert out == frame(b"17xAOlib|AB1|AY3")
    assert sip2.encode("17", [], [("AO", "lib")], sequence=None, encoding="ascii") == b"17AOlib|\r"
    assert sip2.encode("97", [], [], sequence=5, encoding="ascii") == b"97AZFEF5\r"


def test_a_frame_read_gives_its_sequence_fixed_fields_and_fields_in_order():
    msg = sip2.decode(b"\n" + frame(b"941AY7") + b"\n", encoding="ascii", require_checksum=True)
    assert (msg.command, msg.fixed, msg.sequence, msg.fields) == ("94", {"ok": "1"}, 7, [])
    msg = sip2.decode(frame(b"941||AFone|AF two |AFx|AY0"), encoding="ascii")
    assert msg.sequence == 0 and msg.get_all("AF") == ["one", " two ", "x"]
    assert msg.screen_message == "one two x"
    assert msg.get("AF") == "one" and msg.get("ZZ") is None and msg.get("ZZ", "-") == "-"
    assert sip2.decode(b"941AFa|", encoding="ascii").sequence is None


def test_bad_frames_are_frame_errors_that_say_what_is_wrong():
    cases = [
        (b"9", "frame too short"),
        (frame(b"\xff\xfe1"), "command id is not ASCII"),
        (b"\xff\xfe1\r", "command id is not ASCII"),
        (frame(b"551"), "unknown or unexpected command '55'"),
        (frame(b"94"), "fixed field ok of 94 cut short"),
        (frame(b"941AFx|Q|"), "stray text 'Q' in 94"),
        (b"941AF\xff|\r", "not ascii text"),
    ]
    for data, words in cases:
        with pytest.raises(sip2.FrameError, match=words):
            sip2.decode(data, encoding="ascii")
    with pytest.raises(sip2.FrameError, match="not no-such-codec text"):
        sip2.decode(b"941\r", encoding="no-such-codec")
    with pytest.raises(sip2.ChecksumError, match="frame has no checksum"):
        sip2.decode(b"941\r", encoding="ascii", require_checksum=True)
    with pytest.raises(sip2.ChecksumError, match="bad checksum"):
        sip2.decode(b"941AY1AZ0000\r", encoding="ascii")


def test_flags_read_y_or_1_and_nothing_else():
    msg = sip2.decode(frame(b"12YN1 20260105    101500"), encoding="ascii")
    assert [msg.flag(n) for n in ("ok", "renewal_ok", "magnetic_media", "desensitize")] == [
        True, False, True, False]
    assert msg.flag("missing") is False


def test_sip_dates_are_eighteen_characters_local_time():
    assert sip2.sip_datetime(dt.datetime(2026, 1, 5, 10, 15, 0)) == "20260105    101500"
    now = sip2.sip_datetime()
    assert len(now) == 18 and now[8:12] == "    " and now[:4].isdigit()


def test_requests_carry_their_fixed_fields_and_fields_in_sip2_order():
    assert sip2.login("u", "p") == ("93", ["0", "0"], [("CN", "u"), ("CO", "p"), ("CP", None)])
    assert sip2.login("u", "p", "here")[2][2] == ("CP", "here")
    assert sip2.sc_status() == ("99", ["0", "080", "2.00"], [])
    assert sip2.sc_status(5)[1][1] == "005"
    assert sip2.request_resend() == ("97", [], [])
    command, fixed, fields = sip2.patron_information("lib", "N1", summary="hold")
    assert command == "63" and fixed[0] == "000" and fixed[2] == "Y         "
    assert fields == [("AO", "lib"), ("AA", "N1"), ("AC", ""), ("AD", None),
                      ("BP", "1"), ("BQ", "50")]
    command, fixed, fields = sip2.patron_information("lib", "N1", summary="charged",
                                                     start_item=3, end_item=9)
    assert fixed[2] == "  Y       " and fields[-2:] == [("BP", "3"), ("BQ", "9")]
    command, fixed, fields = sip2.patron_information("lib", "N1", terminal_password="t",
                                                     patron_password="pw", language="028")
    assert fixed[0] == "028" and fixed[2] == " " * 10
    assert fields == [("AO", "lib"), ("AA", "N1"), ("AC", "t"), ("AD", "pw")]
    command, fixed, fields = sip2.patron_status("lib", "N1", terminal_password="t",
                                                patron_password="pw", language="028")
    assert (command, fixed[0], len(fixed[1])) == ("23", "028", 18)
    assert fields == [("AO", "lib"), ("AA", "N1"), ("AC", "t"), ("AD", "pw")]
    command, fixed, fields = sip2.checkout("lib", "N1", "I1", terminal_password="t")
    assert (command, fixed[:2], len(fixed)) == ("11", ["Y", "N"], 4) and fixed[2] == fixed[3]
    assert fields == [("AO", "lib"), ("AA", "N1"), ("AB", "I1"), ("AC", "t")]
    assert sip2.checkout("lib", "N1", "I1", renewal_policy=False)[1][0] == "N"
    command, fixed, fields = sip2.checkin("lib", "I1", "desk", terminal_password="t")
    assert (command, fixed[0], len(fixed)) == ("09", "N", 3) and fixed[1] == fixed[2]
    assert fields == [("AP", "desk"), ("AO", "lib"), ("AB", "I1"), ("AC", "t")]
    command, fixed, fields = sip2.end_session("lib", "N1", terminal_password="t")
    assert (command, len(fixed)) == ("35", 1)
    assert fields == [("AO", "lib"), ("AA", "N1"), ("AC", "t")]
    command, fixed, fields = sip2.item_information("lib", "I1", terminal_password="t")
    assert (command, len(fixed)) == ("17", 1)
    assert fields == [("AO", "lib"), ("AB", "I1"), ("AC", "t")]


def test_an_empty_field_is_read_as_empty_not_as_stray_text():
    msg = sip2.decode(frame(b"941AF|AO|AY1"), encoding="ascii")
    assert msg.fields == [("AF", ""), ("AO", "")] and msg.screen_message == ""


def test_a_checksum_with_a_letter_that_is_not_hex_is_refused_not_a_crash():
    assert not sip2.verify(b"9400AY1AZ00X0")
    with pytest.raises(sip2.ChecksumError):
        sip2.decode(b"9400AY1AZ00X0\r", encoding="ascii")


def test_a_checkin_carries_real_dates():
    fixed = sip2.checkin("lib", "I1", "desk")[1]
    assert len(fixed[1]) == 18 and fixed[1][8:12] == "    "
