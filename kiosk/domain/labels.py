"""Shelf-slot labels: a printable A4 sheet of slot labels, each with its Code 128 barcode.

One layout serves every format: 3 × 8 labels of 70 × 37 mm fill an A4 page
(the common self-adhesive label sheet). HTML and SVG carry vector barcodes and
need no other file; PDF pages are drawn with Pillow at 300 dpi.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk import barcodes
from kiosk.domain.messages import N_
from kiosk.domain.orders import NotFound
from kiosk.models import Shelf, Slot

PAGE_MM = (210.0, 297.0)
COLUMNS, ROWS = 3, 8
CELL_MM = (70.0, 37.0)
PER_PAGE = COLUMNS * ROWS
TEXT_MM = 12.0  # height of the label text
BARCODE_TOP_MM = 18.0  # where the barcode starts inside a label
DPI = 300
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
FORMATS = {".html": "html", ".htm": "html", ".svg": "svg", ".pdf": "pdf"}
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "svg": "image/svg+xml", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Cell:
    """Where one label sits: page number and top-left corner in millimetres."""

    page: int
    x_mm: float
    y_mm: float


def cell(index: int) -> Cell:
    """Return the place on the sheet of the label at index (0-based)."""
    page, rest = divmod(index, PER_PAGE)
    row, col = divmod(rest, COLUMNS)
    return Cell(page, col * CELL_MM[0], row * CELL_MM[1])


def slot_labels(session: Session, shelf: str | None = None, branch: str = "main") -> list[str]:
    """Return the labels of the slots in use on branch's wall, shelf by shelf; NotFound for
    an unknown shelf. (A label names no branch: each branch prints its own sheet.)"""
    query = (select(Slot.label).join(Shelf).where(Slot.active.is_(True), Shelf.branch == branch)
             .order_by(Shelf.position, Slot.number))
    if shelf:
        name = shelf.strip().upper()
        if session.scalar(select(Shelf.id).where(Shelf.branch == branch,
                                                 Shelf.name == name)) is None:
            raise NotFound(N_("No shelf %(shelf)s"), {"shelf": shelf}, shelf=shelf)
        query = query.where(Shelf.name == name)
    return list(session.scalars(query))


def format_for(path: str | Path) -> str | None:
    """Return the sheet format a file name asks for (html, svg, pdf), or None."""
    return FORMATS.get(Path(path).suffix.lower())


def render(labels: Sequence[str], fmt: str, title: str = "", hint: str | None = None) -> bytes:
    """Return the sheet in the given format (html, svg or pdf) as bytes.

    hint: the HTML sheet's printing advice (in the reader's language; English if None).
    """
    if fmt == "html":
        return render_html(labels, title, hint).encode("utf-8")
    if fmt == "svg":
        return render_svg(labels).encode("utf-8")
    if fmt == "pdf":
        return render_pdf(labels, title)
    raise ValueError(f"unknown label sheet format {fmt!r}; use html, svg or pdf")


def _barcode_svg(label: str) -> str:
    """Return the label's barcode as an SVG element without ids that would repeat."""
    svg = barcodes.code128_svg(label)
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    return svg.replace(' id="barcode_group"', "")


def _barcode_width_mm(svg: str) -> float:
    return float(re.search(r'width="([\d.]+)mm"', svg).group(1))


_CSS = f"""
@page {{ size: A4; margin: 0; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; font-family: "DejaVu Sans", Verdana, sans-serif; color: #000; }}
.sheet {{ width: {PAGE_MM[0]}mm; height: {PAGE_MM[1]}mm; display: grid;
  grid-template-columns: repeat({COLUMNS}, {CELL_MM[0]}mm);
  grid-auto-rows: {CELL_MM[1]}mm; break-after: page; page-break-after: always; }}
.sheet:last-of-type {{ break-after: auto; page-break-after: auto; }}
.label {{ width: {CELL_MM[0]}mm; height: {CELL_MM[1]}mm; padding-top: 2mm; text-align: center;
  overflow: hidden; outline: 0.1mm dashed #bbb; }}
.label .text {{ display: block; font-size: {TEXT_MM}mm; line-height: {BARCODE_TOP_MM - 3}mm;
  font-weight: bold; letter-spacing: 0.5mm; }}
.label svg {{ display: block; margin: 1mm auto 0; }}
.hint {{ font-size: 4mm; margin: 4mm; }}
@media screen {{ body {{ background: #eee; }} .sheet {{ background: #fff; margin: 0 auto 8mm; }} }}
@media print {{ .hint {{ display: none; }} .label {{ outline: none; }} }}
"""


def render_html(labels: Sequence[str], title: str = "", hint: str | None = None) -> str:
    """Return a self-contained HTML page of A4 label sheets (print it at 100 %)."""
    heading = html.escape(title or "Slot labels")
    pages = []
    for start in range(0, len(labels), PER_PAGE):
        cells = "".join(
            f'<div class="label" data-label="{html.escape(text)}">'
            f'<span class="text">{html.escape(text)}</span>{_barcode_svg(text)}</div>'
            for text in labels[start:start + PER_PAGE])
        pages.append(f'<section class="sheet">{cells}</section>')
    if hint is None:
        hint = (f"{len(labels)} labels on {len(pages)} A4 pages. Print at 100 % without "
                "margins on a 3 × 8 label sheet (70 × 37 mm).")
    hint = f'<p class="hint">{heading}: {html.escape(hint)}</p>'
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\">"
            f"<title>{heading}</title><style>{_CSS}</style></head>"
            f"<body>{hint}{''.join(pages)}</body></html>\n")


def render_svg(labels: Sequence[str]) -> str:
    """Return one SVG document with the A4 pages stacked from top to bottom."""
    pages = max(1, -(-len(labels) // PER_PAGE))
    width, height = PAGE_MM[0], PAGE_MM[1] * pages
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}mm" height="{height}mm" '
             f'viewBox="0 0 {width} {height}">',
             f'<rect width="{width}" height="{height}" fill="#fff"/>']
    for page in range(1, pages):
        parts.append(f'<line x1="0" y1="{page * PAGE_MM[1]}" x2="{width}" '
                     f'y2="{page * PAGE_MM[1]}" stroke="#ccc" stroke-width="0.2"/>')
    for index, text in enumerate(labels):
        c = cell(index)
        y = c.y_mm + c.page * PAGE_MM[1]
        bar = _barcode_svg(text)
        bar_x = c.x_mm + (CELL_MM[0] - _barcode_width_mm(bar)) / 2
        # One user unit is a millimetre here, so the barcode's "mm" lengths become plain numbers.
        nested = bar.replace('mm"', '"').replace(
            "<svg ", f'<svg x="{bar_x:.3f}" y="{y + BARCODE_TOP_MM:.3f}" ', 1)
        parts.append(
            f'<g class="label" data-label="{html.escape(text)}">'
            f'<text x="{c.x_mm + CELL_MM[0] / 2}" y="{y + 2 + TEXT_MM * 0.9:.3f}" '
            'text-anchor="middle" font-family="DejaVu Sans, Verdana, sans-serif" '
            f'font-weight="bold" font-size="{TEXT_MM}">{html.escape(text)}</text>{nested}</g>')
    parts.append("</svg>\n")
    return "\n".join(parts)


def _px(mm: float) -> int:
    return round(mm / 25.4 * DPI)


def _font(size_px: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(FONT), size_px)
    except OSError:  # no DejaVu here: Pillow's own scalable font
        return ImageFont.load_default(size=size_px)


def render_pages(labels: Sequence[str]) -> list[Image.Image]:
    """Return the sheet's pages as greyscale images at 300 dpi."""
    font = _font(_px(TEXT_MM))
    pages: list[Image.Image] = []
    for index, text in enumerate(labels):
        c = cell(index)
        if c.page == len(pages):
            pages.append(Image.new("L", (_px(PAGE_MM[0]), _px(PAGE_MM[1])), 255))
        draw = ImageDraw.Draw(pages[c.page])
        centre_x = _px(c.x_mm + CELL_MM[0] / 2)
        draw.text((centre_x, _px(c.y_mm + 2)), text, font=font, fill=0, anchor="mt")
        bar = Image.open(io.BytesIO(barcodes.code128_png(text, dpi=DPI))).convert("L")
        pages[c.page].paste(bar, (centre_x - bar.width // 2, _px(c.y_mm + BARCODE_TOP_MM)))
    return pages or [Image.new("L", (_px(PAGE_MM[0]), _px(PAGE_MM[1])), 255)]


def render_pdf(labels: Sequence[str], title: str = "") -> bytes:
    """Return the sheet as a PDF of A4 pages."""
    first, *rest = render_pages(labels)
    out = io.BytesIO()
    first.save(out, format="PDF", resolution=float(DPI), save_all=True, append_images=rest,
               title=title or "Slot labels")
    return out.getvalue()
