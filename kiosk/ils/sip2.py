"""SIP2 (3M Standard Interchange Protocol 2.00) messages: building, parsing, checksums.

A frame is a command id, fixed-width fields, `XXvalue|` identified fields, then
`AY<sequence>AZ<checksum>` and a carriage return. The checksum is the 16-bit
two's complement of the byte sum of everything through the `AZ`, written as
four upper-case hex digits, zero-padded. No I/O here: see kiosk.ils.client.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kiosk import clock

CR = b"\r"
DELIMITER = "|"

# Fixed fields of the responses this station reads, in wire order: (name, width).
RESPONSE_LAYOUTS: dict[str, tuple[tuple[str, int], ...]] = {
    "94": (("ok", 1),),
    "98": (("online", 1), ("checkin_ok", 1), ("checkout_ok", 1), ("renewal_policy", 1),
           ("status_update_ok", 1), ("offline_ok", 1), ("timeout_period", 3),
           ("retries_allowed", 3), ("date_time_sync", 18), ("protocol_version", 4)),
    "64": (("patron_status", 14), ("language", 3), ("transaction_date", 18),
           ("hold_items_count", 4), ("overdue_items_count", 4), ("charged_items_count", 4),
           ("fine_items_count", 4), ("recall_items_count", 4), ("unavailable_holds_count", 4)),
    "24": (("patron_status", 14), ("language", 3), ("transaction_date", 18)),
    "12": (("ok", 1), ("renewal_ok", 1), ("magnetic_media", 1), ("desensitize", 1),
           ("transaction_date", 18)),
    "36": (("end_session", 1), ("transaction_date", 18)),
    "10": (("ok", 1), ("resensitize", 1), ("magnetic_media", 1), ("alert", 1),
           ("transaction_date", 18)),
    "18": (("circulation_status", 2), ("security_marker", 2), ("fee_type", 2),
           ("transaction_date", 18)),
    "96": (),
    "97": (),
}

# Positions in the 10-character summary of a 63 Patron Information request.
SUMMARY = {"hold": 0, "overdue": 1, "charged": 2, "fine": 3, "recall": 4, "unavailable": 5}

# Alert types (CV) of a 10 Checkin answer: a hold for this library, for another one, and
# "send the item home" (Koha: a transfer with no hold).
HOLD_HERE, HOLD_ELSEWHERE, SEND_HOME = "01", "02", "04"

# Circulation status of an 18 Item Information answer: on the hold shelf, waiting.
WAITING_ON_HOLD_SHELF = "08"

# Positions of the 14-character patron status of 24/64 that stop lending.
PATRON_STATUS = {"charge_denied": 0, "renewal_denied": 1, "recall_denied": 2,
                 "hold_denied": 3, "card_lost": 4, "too_many_charged": 5}


class SIP2Error(Exception):
    """Base of every SIP2 problem."""


class FrameError(SIP2Error):
    """A frame that cannot be parsed (wrong layout, no CR, unknown command)."""


class ChecksumError(FrameError):
    """A frame whose checksum does not match its bytes."""


def checksum(data: bytes) -> str:
    """Return the checksum of data (everything through "AZ") as four upper-case hex digits."""
    return f"{(-sum(data)) & 0xFFFF:04X}"


def verify(frame: bytes) -> bool:
    """Return True when a frame (CR optional) ends in AZxxxx matching its bytes."""
    body = frame[:-1] if frame.endswith(CR) else frame
    if len(body) < 6 or body[-6:-4] != b"AZ":
        return False
    digits = body[-4:]
    if not all(c in b"0123456789ABCDEFabcdef" for c in digits):
        return False
    return (sum(body[:-4]) + int(digits, 16)) & 0xFFFF == 0


def sip_datetime(when: dt.datetime | None = None) -> str:
    """Return a time as SIP2's 18 characters: YYYYMMDD, four spaces (local time), HHMMSS."""
    when = when or clock.local_now()
    return when.strftime("%Y%m%d") + "    " + when.strftime("%H%M%S")


@dataclass
class Message:
    """One parsed frame: command id, fixed fields by name, identified fields in order."""

    command: str
    fixed: dict[str, str] = field(default_factory=dict)
    fields: list[tuple[str, str]] = field(default_factory=list)
    sequence: int | None = None

    def get(self, code: str, default: str | None = None) -> str | None:
        """Return the first value of an identified field such as "AF"."""
        return next((v for c, v in self.fields if c == code), default)

    def get_all(self, code: str) -> list[str]:
        """Return every value of a repeatable field such as "AS" (hold items)."""
        return [v for c, v in self.fields if c == code]

    def flag(self, name: str) -> bool:
        """Return True when a one-character fixed field reads Y or 1."""
        return self.fixed.get(name, "") in ("Y", "1")

    @property
    def screen_message(self) -> str:
        """Return the ILS's screen messages (AF) joined into one line."""
        return " ".join(m.strip() for m in self.get_all("AF") if m.strip())


def _check_value(code: str, value: str) -> None:
    if DELIMITER in value or "\r" in value or "\n" in value or "\0" in value:
        raise ValueError(f"field {code} may not contain '|', CR, LF or NUL")


def encode(command: str, fixed: list[str], fields: list[tuple[str, str | None]], *,
           sequence: int | None, encoding: str) -> bytes:
    """Build a frame; with a sequence number, add AY and the AZ checksum (None: neither)."""
    if len(command) != 2 or not command.isdigit():
        raise ValueError(f"bad command id {command!r}")
    parts = [command.encode("ascii")]
    for value in fixed:
        _check_value("fixed", value)
        parts.append(value.encode(encoding))
    for code, value in fields:
        if value is None:
            continue
        _check_value(code, value)
        parts.append(code.encode("ascii") + value.encode(encoding) + b"|")
    body = b"".join(parts)
    if command in ("96", "97"):
        body += b"AZ"
        return body + checksum(body).encode("ascii") + CR
    if sequence is None:
        return body + CR
    body += b"AY" + str(sequence % 10).encode("ascii") + b"AZ"
    return body + checksum(body).encode("ascii") + CR


def decode(frame: bytes, *, encoding: str, require_checksum: bool = False) -> Message:
    """Parse one frame; raise ChecksumError on a bad checksum, FrameError on bad layout."""
    body = frame.rstrip(b"\r\n").lstrip(b"\n")
    if len(body) < 2:
        raise FrameError("frame too short")
    sequence = None
    if len(body) >= 6 and body[-6:-4] == b"AZ":
        if not verify(body):
            raise ChecksumError(f"bad checksum {body[-4:]!r}")
        body = body[:-6]
        if len(body) >= 3 and body[-3:-1] == b"AY" and body[-1:].isdigit():
            sequence = int(body[-1:])
            body = body[:-3]
    elif require_checksum:
        raise ChecksumError("frame has no checksum")
    try:
        command = body[:2].decode("ascii")
    except UnicodeDecodeError:
        raise FrameError("command id is not ASCII") from None
    layout = RESPONSE_LAYOUTS.get(command)
    if layout is None:
        raise FrameError(f"unknown or unexpected command {command!r}")
    try:
        text = body[2:].decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise FrameError(f"not {encoding} text: {exc}") from None
    message = Message(command=command, sequence=sequence)
    pos = 0
    for name, width in layout:
        piece = text[pos:pos + width]
        if len(piece) != width:
            raise FrameError(f"fixed field {name} of {command} cut short")
        message.fixed[name] = piece
        pos += width
    rest = text[pos:]
    for chunk in rest.split(DELIMITER):
        if not chunk:
            continue
        if len(chunk) < 2:
            raise FrameError(f"stray text {chunk!r} in {command}")
        message.fields.append((chunk[:2], chunk[2:]))
    return message


# --- requests the station sends -------------------------------------------------------

def login(user: str, password: str, location: str = "") -> tuple[str, list, list]:
    """Return the parts of a 93 Login."""
    return "93", ["0", "0"], [("CN", user), ("CO", password), ("CP", location or None)]


def sc_status(max_print_width: int = 80) -> tuple[str, list, list]:
    """Return the parts of a 99 SC Status (status ok, protocol 2.00)."""
    return "99", ["0", f"{max_print_width:03d}", "2.00"], []


def request_resend() -> tuple[str, list, list]:
    """Return the parts of a 97 Request ACS Resend."""
    return "97", [], []


def patron_information(institution: str, patron: str, *, terminal_password: str = "",
                       patron_password: str | None = None, summary: str = "",
                       start_item: int = 1, end_item: int = 50,
                       language: str = "000") -> tuple[str, list, list]:
    """Return the parts of a 63 Patron Information; summary names one list, e.g. "hold"."""
    flags = [" "] * 10
    if summary:
        flags[SUMMARY[summary]] = "Y"
    fields: list[tuple[str, str | None]] = [
        ("AO", institution), ("AA", patron), ("AC", terminal_password),
        ("AD", patron_password)]
    if summary:
        fields += [("BP", str(start_item)), ("BQ", str(end_item))]
    return "63", [language, sip_datetime(), "".join(flags)], fields


def patron_status(institution: str, patron: str, *, terminal_password: str = "",
                  patron_password: str = "", language: str = "000") -> tuple[str, list, list]:
    """Return the parts of a 23 Patron Status."""
    return "23", [language, sip_datetime()], [
        ("AO", institution), ("AA", patron), ("AC", terminal_password), ("AD", patron_password)]


def checkout(institution: str, patron: str, item: str, *, terminal_password: str = "",
             renewal_policy: bool = True) -> tuple[str, list, list]:
    """Return the parts of an 11 Checkout (no-block off, renewal allowed by default)."""
    now = sip_datetime()
    return "11", ["Y" if renewal_policy else "N", "N", now, now], [
        ("AO", institution), ("AA", patron), ("AB", item), ("AC", terminal_password)]


def checkin(institution: str, item: str, location: str, *,
            terminal_password: str = "") -> tuple[str, list, list]:
    """Return the parts of a 09 Checkin (no-block off: the ILS decides now)."""
    now = sip_datetime()
    return "09", ["N", now, now], [
        ("AP", location), ("AO", institution), ("AB", item), ("AC", terminal_password)]


def end_session(institution: str, patron: str, *,
                terminal_password: str = "") -> tuple[str, list, list]:
    """Return the parts of a 35 End Patron Session."""
    return "35", [sip_datetime()], [
        ("AO", institution), ("AA", patron), ("AC", terminal_password)]


def item_information(institution: str, item: str, *,
                     terminal_password: str = "") -> tuple[str, list, list]:
    """Return the parts of a 17 Item Information."""
    return "17", [sip_datetime()], [
        ("AO", institution), ("AB", item), ("AC", terminal_password)]
