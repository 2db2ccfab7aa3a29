"""Compose a pickup slip as ESC/POS bytes: station, date, pickup code, slots, deadline, barcode.

At the bottom, the scan's after-pickup offer (if any): its title and a QR code of its url.

Composition runs on python-escpos's Dummy printer with the configured profile, so the
bytes are complete before any device is touched; sending them is `printer.py`'s job.
Norwegian letters need a code page that has them: CP865 (Nordic) first, then CP850,
CP858 or CP1252, whichever the printer profile offers.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from escpos.printer import Dummy

from kiosk import clock

log = logging.getLogger(__name__)

CODE_PAGES = ("CP865", "CP850", "CP858", "CP1252", "ISO_8859-15")

WORDS = {
    "nb": {"code": "Hentekode", "slot": "Hylleplass", "items": "eks.", "until": "Hentes innen",
           "test": "Testutskrift", "note": "Ta med lånekortet når du henter.",
           "letters": "Norske bokstaver: æ ø å Æ Ø Å"},
    "nn": {"code": "Hentekode", "slot": "Hylleplass", "items": "eks.", "until": "Hentast innan",
           "test": "Testutskrift", "note": "Ta med lånekortet når du hentar.",
           "letters": "Norske bokstavar: æ ø å Æ Ø Å"},
    "en": {"code": "Pickup code", "slot": "Shelf slot", "items": "items", "until": "Collect by",
           "test": "Test print", "note": "Bring your library card when you collect.",
           "letters": "Norwegian letters: æ ø å Æ Ø Å"},
}


@dataclass
class SlipLine:
    """One bag on a slip: its pickup code, slot, item count and deadline."""

    pickup_code: str
    slot: str
    items: int
    deadline: dt.date | None = None


@dataclass
class SlipOffer:
    """A digital offer at the bottom of a slip: its title and the url its QR code opens."""

    title: str
    url: str


@dataclass
class Slip:
    """What one slip shows."""

    station: str
    printed_at: dt.datetime
    lines: list[SlipLine] = field(default_factory=list)
    language: str = "nb"
    test: bool = False
    offer: SlipOffer | None = None


def slip_from_result(station: str, result: dict[str, Any], language: str = "nb",
                     now: dt.datetime | None = None) -> Slip | None:
    """Return the slip for a scan's result, or None when nothing is on the shelf."""
    lines = []
    for pickup in result.get("pickups") or []:
        deadline = pickup.get("deadline")
        lines.append(SlipLine(
            pickup_code=str(pickup["pickup_code"]), slot=str(pickup["slot"]),
            items=int(pickup.get("items") or 0),
            deadline=dt.date.fromisoformat(deadline[:10]) if deadline else None))
    if not lines:
        return None
    offer = result.get("offer")
    extra = None
    if isinstance(offer, dict) and offer.get("title") and offer.get("url"):
        extra = SlipOffer(str(offer["title"]), str(offer["url"]))
    return Slip(station, now or clock.local_now(), lines, language, offer=extra)


def sample_slip(station: str, language: str = "nb", now: dt.datetime | None = None) -> Slip:
    """Return a test slip with a sample pickup code, slot and deadline."""
    now = now or clock.local_now()
    line = SlipLine("KR-472", "A-01", 2, (now + dt.timedelta(days=7)).date())
    return Slip(station, now, [line], language, test=True)


def choose_code_page(profile: str) -> str | None:
    """Return the first code page with æøå that the profile offers, or None."""
    available = Dummy(profile=profile).profile.get_code_pages()
    return next((cp for cp in CODE_PAGES if cp in available), None)


def compose(slip: Slip, profile: str = "default") -> bytes:
    """Return the slip as ESC/POS bytes for a printer of the given profile."""
    p = Dummy(profile=profile)
    p.hw("INIT")  # resets the code table too, so the code page is chosen after it
    code_page = choose_code_page(profile)
    if code_page:
        p.charcode(code_page)
    else:
        log.warning("printer profile %s has no code page with æøå; they may print as ?", profile)
    w = WORDS.get(slip.language, WORDS["nb"])
    p.set(align="center", bold=True)
    p.textln(slip.station)
    p.set(align="center", bold=False)
    p.textln(slip.printed_at.strftime("%d.%m.%Y %H:%M"))
    if slip.test:
        p.textln(w["test"])
        p.textln(w["letters"])
    for line in slip.lines:
        p.ln()
        p.set(align="center", normal_textsize=True)
        p.textln(w["code"])
        p.set(align="center", bold=True, double_width=True, double_height=True)
        p.textln(line.pickup_code)
        p.set(align="center", normal_textsize=True, bold=False)
        p.textln(f"{w['slot']} {line.slot} - {line.items} {w['items']}")
        if line.deadline:
            p.textln(f"{w['until']} {line.deadline.strftime('%d.%m.%Y')}")
        _barcode(p, line.pickup_code)
    p.ln()
    p.set(align="center")
    p.textln(w["note"])
    if slip.offer:
        _offer(p, slip.offer)
    p.cut()
    return p.output


def _offer(p: Dummy, offer: SlipOffer) -> None:
    """Print the offer's title and a QR code of its url, centred."""
    p.ln()
    p.set(align="center", bold=True)
    p.textln(offer.title)
    p.set(align="center", bold=False)
    if p.profile.supports("qrCode"):
        p.qr(offer.url, size=5, native=True)  # the printer draws it: sharp and few bytes
    else:
        p.qr(offer.url, size=5, center=False)  # an image for printers without GS ( k
    p.set(align="center")
    p.textln(offer.url)


def _barcode(p: Dummy, code: str) -> None:
    """Print code as CODE128 with the printer's own renderer (GS k) when it has one."""
    if p.profile.supports("barcodeB"):
        # Escpos.barcode() would print a notice to stdout on every call; the hardware
        # path it takes is this one. Code set B ({B) holds letters, digits and '-'.
        p._hw_barcode("{B" + code, "CODE128", height=64, width=2, pos="BELOW",
                      function_type="B", check=False)
    else:
        p.barcode(code, "CODE128", height=64, width=2)
