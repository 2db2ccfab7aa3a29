"""Barcodes and QR codes for labels, slips and the screen (python-barcode, qrcode).

SVG for pages (scales crisply on any printer), PNG for places that need pixels.
"""

from __future__ import annotations

import io
import re

import barcode
import qrcode
import qrcode.image.svg
from barcode.writer import ImageWriter, SVGWriter
from qrcode.exceptions import DataOverflowError

_OPTIONS = {"module_width": 0.33, "module_height": 12.0, "quiet_zone": 4.0,
            "font_size": 0, "text_distance": 1.0, "write_text": False}


def code128_svg(text: str) -> str:
    """Return a Code 128 barcode of text as an SVG document (no human-readable line)."""
    out = io.BytesIO()
    barcode.get("code128", text, writer=SVGWriter()).write(out, options=dict(_OPTIONS))
    svg = out.getvalue().decode("utf-8")
    # Colours as attributes, not style="": pages allow no inline style (webpolicy's CSP).
    svg = re.sub(r'style="fill:(\w+);?"', r'fill="\1"', svg)
    return svg[svg.index("<svg"):]


def code128_png(text: str, dpi: int = 300) -> bytes:
    """Return a Code 128 barcode of text as PNG bytes."""
    out = io.BytesIO()
    barcode.get("code128", text, writer=ImageWriter()).write(out, options={**_OPTIONS, "dpi": dpi})
    return out.getvalue()


def qr_fits(data: str) -> bool:
    """Return True when one QR code (version 40 at most, level M) holds data."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(data)
    try:
        qr.best_fit()  # sizes the code without drawing it
    except (DataOverflowError, ValueError):  # qrcode 8 says "Invalid version (was 41...)"
        return False
    return True


def qr_svg(data: str, box_size: int = 10) -> str:
    """Return a QR code of data as an inline SVG element (path-based, no XML header)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size,
                       border=4, image_factory=qrcode.image.svg.SvgPathImage)
    qr.add_data(data)
    qr.make(fit=True)
    svg = qr.make_image().to_string(encoding="unicode")
    return svg[svg.index("<svg"):]


def qr_png(data: str, box_size: int = 8) -> bytes:
    """Return a QR code of data as PNG bytes."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size,
                       border=4)
    qr.add_data(data)
    qr.make(fit=True)
    out = io.BytesIO()
    qr.make_image().save(out, format="PNG")
    return out.getvalue()
