"""Barcodes and QR codes read back by an independent decoder (zbarimg from zbar-tools)."""

from __future__ import annotations

import subprocess

import pytest

from kiosk import barcodes


@pytest.fixture
def decode(tmp_path, zbarimg):

    def run(png: bytes) -> list[str]:
        path = tmp_path / "code.png"
        path.write_bytes(png)
        out = subprocess.run([zbarimg, "--quiet", "--raw", str(path)], capture_output=True,
                             text=True, timeout=30)
        return out.stdout.splitlines()

    return run


@pytest.mark.parametrize("text", ["A-01", "B-12", "KR-472", "N123456789"])
def test_code128_png_decodes_to_its_text(decode, text):
    assert decode(barcodes.code128_png(text)) == [text]


@pytest.mark.parametrize("url", ["https://example.org/e-bibliotek",
                                 "https://example.org/podkast?ep=12&lang=nb"])
def test_qr_png_decodes_to_exactly_its_url(decode, url):
    assert decode(barcodes.qr_png(url)) == [url]


def test_svg_forms_are_svg_elements():
    assert barcodes.code128_svg("A-01").startswith("<svg")
    assert barcodes.qr_svg("https://example.org").startswith("<svg")
