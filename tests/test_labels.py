"""Slot label sheets: every label's barcode, as printed, decodes to that label (zbarimg)."""

from __future__ import annotations

import io
import shutil
import subprocess
from xml.etree import ElementTree

import pytest
from PIL import Image

from kiosk.domain import labels
from kiosk.domain.orders import NotFound

GHOSTSCRIPT = shutil.which("gs")
ZBAR_NS = "{http://zbar.sourceforge.net/2008/barcode}"
CONFIGURED = [f"A-{n:02d}" for n in range(1, 7)] + [f"B-{n:02d}" for n in range(1, 5)]


@pytest.fixture
def decode(tmp_path, zbarimg):
    """Return a function reading the barcodes of many PNGs with one zbarimg run, image by image."""

    def run(pngs: list[bytes]) -> list[list[str]]:
        paths = []
        for n, data in enumerate(pngs):
            paths.append(tmp_path / f"label{n}.png")
            paths[-1].write_bytes(data)
        out = subprocess.run([zbarimg, "--quiet", "--xml", *map(str, paths)],
                             capture_output=True, text=True, timeout=60)
        found: dict[str, list[str]] = {str(p): [] for p in paths}
        for source in ElementTree.fromstring(out.stdout).iter(f"{ZBAR_NS}source"):
            found[source.get("href")] = [d.text for d in source.iter(f"{ZBAR_NS}data")]
        return [found[str(p)] for p in paths]

    return run


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def crop_label(page: Image.Image, index: int, dpi: float) -> Image.Image:
    """Cut the label at index out of a page image of the given resolution."""
    c = labels.cell(index)
    px = dpi / 25.4
    return page.crop((round(c.x_mm * px), round(c.y_mm * px),
                      round((c.x_mm + labels.CELL_MM[0]) * px),
                      round((c.y_mm + labels.CELL_MM[1]) * px)))


def test_slot_labels_come_from_the_configured_shelves(session):
    assert labels.slot_labels(session) == CONFIGURED
    assert labels.slot_labels(session, "b") == CONFIGURED[6:]
    with pytest.raises(NotFound):
        labels.slot_labels(session, "Z")


def test_the_grid_fills_a4_three_by_eight():
    assert labels.cell(0) == labels.Cell(0, 0, 0)
    assert labels.cell(4) == labels.Cell(0, 70, 37)
    assert labels.cell(23) == labels.Cell(0, 140, 259)
    assert labels.cell(24) == labels.Cell(1, 0, 0)
    assert labels.CELL_MM[0] * labels.COLUMNS <= labels.PAGE_MM[0]
    assert labels.CELL_MM[1] * labels.ROWS <= labels.PAGE_MM[1]


def test_every_label_on_the_page_images_decodes_to_its_label(session, decode):
    texts = labels.slot_labels(session)
    pages = labels.render_pages(texts)
    assert len(pages) == 1 and pages[0].size == (2480, 3508)  # A4 at 300 dpi
    crops = [png(crop_label(pages[0], index, labels.DPI)) for index in range(len(texts))]
    assert decode(crops) == [[text] for text in texts]


def test_the_pdf_as_printed_decodes_label_by_label(decode, tmp_path):
    if not GHOSTSCRIPT:
        pytest.skip("Ghostscript (gs) not installed to rasterise the PDF")
    texts = [f"A-{n:02d}" for n in range(1, 25)] + ["B-01", "XYZW-123"]
    pdf = labels.render_pdf(texts, "Test")
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "labels.pdf"
    path.write_bytes(pdf)
    subprocess.run([GHOSTSCRIPT, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pnggray",
                    "-r200", f"-sOutputFile={tmp_path}/page%d.png", str(path)],
                   check=True, capture_output=True, timeout=60)
    pages = sorted(tmp_path.glob("page*.png"))
    assert [p.name for p in pages] == ["page1.png", "page2.png"]
    images = [Image.open(p) for p in pages]
    assert abs(images[0].width - 1654) <= 1 and abs(images[0].height - 2339) <= 1  # A4
    crops = [png(crop_label(images[labels.cell(i).page], i, 200)) for i in range(len(texts))]
    assert decode(crops) == [[text] for text in texts]


def test_an_empty_sheet_is_still_a_page():
    assert len(labels.render_pages([])) == 1
    assert labels.render_pdf([]).startswith(b"%PDF")


def test_html_and_svg_are_self_contained():
    texts = ["A-01", "B-12", "<x>"]
    page = labels.render_html(texts, "Sandvika & co")
    assert page.count('class="label"') == 3
    assert "@page { size: A4; margin: 0; }" in page
    assert "Sandvika &amp; co" in page and "&lt;x&gt;" in page and "<x>" not in page
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert 'id="barcode_group"' not in page  # ids must not repeat
    svg = labels.render_svg(texts)
    assert svg.startswith("<svg") and svg.count('class="label"') == 3
    assert 'width="210.0mm" height="297.0mm"' in svg


@pytest.mark.parametrize(("name", "fmt"), [("x.PDF", "pdf"), ("x.svg", "svg"), ("x.html", "html"),
                                           ("x.htm", "html"), ("x.png", None), ("x", None)])
def test_format_follows_the_file_name(name, fmt):
    assert labels.format_for(name) == fmt


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError):
        labels.render(["A-01"], "docx")


BOXES_JS = """els => els.map(e => {
  const r = e.getBoundingClientRect();
  return [e.getAttribute("data-label"), r.x, r.y, r.width, r.height];
})"""


def shoot_labels(page, selector: str) -> tuple[list[str], list[bytes]]:
    """Screenshot the page once; return each label's text and its cut-out as PNG."""
    boxes = page.eval_on_selector_all(selector, BOXES_JS)
    shot = Image.open(io.BytesIO(page.screenshot()))
    scale = shot.width / page.viewport_size["width"]
    crops = [png(shot.crop((round(x * scale), round(y * scale), round((x + w) * scale),
                            round((y + h) * scale)))) for _, x, y, w, h in boxes]
    return [b[0] for b in boxes], crops


A4_VIEWPORT = {"width": 800, "height": 1130}  # an A4 page at 96 CSS px per inch, and a bit


@pytest.mark.browser
def test_html_sheet_in_chromium_decodes_label_by_label(browser, session, decode):
    texts = labels.slot_labels(session)
    page = browser.new_page(device_scale_factor=2, viewport=A4_VIEWPORT)
    try:
        page.set_content(labels.render_html(texts, "Test"))
        page.add_style_tag(content=".hint { display: none; }")
        shown, crops = shoot_labels(page, ".label")
    finally:
        page.close()
    assert shown == texts
    assert decode(crops) == [[text] for text in texts]


@pytest.mark.browser
def test_svg_sheet_in_chromium_decodes_label_by_label(browser, decode, tmp_path):
    texts = [f"A-{n:02d}" for n in range(1, 24)] + ["XYZW-123"]
    path = tmp_path / "labels.svg"
    path.write_text(labels.render_svg(texts))
    page = browser.new_page(device_scale_factor=2, viewport=A4_VIEWPORT)
    try:
        page.goto(path.as_uri())
        shown, crops = shoot_labels(page, "g.label")
    finally:
        page.close()
    assert shown == texts
    assert decode(crops) == [[text] for text in texts]


def test_a_long_svg_sheet_stacks_its_pages():
    svg = labels.render_svg([f"A-{n:02d}" for n in range(1, 50)])
    assert 'height="891.0mm"' in svg and svg.count('class="label"') == 49
