"""The screens the station really runs on, in real Chromium: every page of the URL map at
1920×1080 (landscape patron screen), 1080×1920 (portrait) and 1366×768 (a staff laptop).

Each page must not scroll sideways and no pickup code or slot label may break across lines
(each occurrence is measured with a Range: a code on one line has one line box). The patron
result must fill the screen with the slot label as its largest text and shelf-wall cells
readable from a metre away (text of 24 px or more at 1080p). The bag label keeps its code on
one line at 62 mm, with the barcode centred.
"""

from __future__ import annotations

import re

import pytest
import site_pages
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

SIZES = {"landscape": (1920, 1080), "portrait": (1080, 1920), "laptop": (1366, 768)}

# Horizontal overflow, and every pickup code (AB-123) or slot label that breaks.
MEASURE = r"""() => {
  const out = {overflow: document.documentElement.scrollWidth - window.innerWidth,
               wrapped: []};
  const code = /\b[A-Z]{1,3}-\d{2,4}\b/g;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !el.checkVisibility() || el.closest("svg, script, style")) continue;
    for (const found of node.textContent.matchAll(code)) {
      const range = document.createRange();
      range.setStart(node, found.index);
      range.setEnd(node, found.index + found[0].length);
      const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      if (tops.size > 1) out.wrapped.push(found[0] + " in " + el.tagName.toLowerCase()
                                          + "." + (el.className || ""));
    }
  }
  return out;
}"""


@pytest.fixture
def config_overrides():
    return site_pages.CONFIG


def show_result(page) -> None:
    """Scan the test card on the patron screen and wait for its result."""
    page.goto("/?lang=nb")
    expect(page.locator("html")).to_have_class(re.compile(r"\bjs-ready\b"))
    page.evaluate("""code => {
        for (const key of [...code, "Enter"]) {
            document.dispatchEvent(new KeyboardEvent("keydown", {key, bubbles: true}));
        }
    }""", site_pages.CARD)
    expect(page.locator("html")).to_have_attribute("data-results-shown", "1")
    expect(page.locator("#result .pickup").first).to_be_visible()


def test_every_page_fits_each_screen(app, page, browser, live_server):
    data = site_pages.populate(app)
    site_pages.log_in(page, "nb")
    data.ids["token"] = site_pages.import_token(page)
    client = site_pages.test_client_login(app)
    pages, _left_out = site_pages.html_pages(app, client, data)
    pages += site_pages.order_pages(data)
    problems = []
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        for url in pages:
            page.goto(url)
            page.wait_for_load_state("load")
            found = page.evaluate(MEASURE)
            if found["overflow"] > 0:
                problems.append(f"{size} {url}: scrolls sideways by {found['overflow']} px")
            problems += [f"{size} {url}: {w} breaks across lines" for w in found["wrapped"]]
        if size != "laptop":
            show_result(page)
            found = page.evaluate(MEASURE)
            if found["overflow"] > 0:
                problems.append(f"{size} result: scrolls sideways by {found['overflow']} px")
            problems += [f"{size} result: {w} breaks across lines" for w in found["wrapped"]]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("size", ["landscape", "portrait"])
def test_patron_result_fills_the_screen_with_the_slot_largest(app, page, size):
    site_pages.populate(app)
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    show_result(page)
    sizes = page.evaluate("""() => {
      const px = (el) => parseFloat(getComputedStyle(el).fontSize);
      const hasText = (el) => [...el.childNodes].some((n) => n.nodeType === 3
                                                       && n.textContent.trim());
      const shown = [...document.querySelectorAll("#result *")]
        .filter((el) => el.checkVisibility() && hasText(el));
      const slot = document.querySelector("#result .pickup .slot");
      const result = document.querySelector("#result").getBoundingClientRect();
      return {slot: px(slot), largestOther: Math.max(...shown.filter((el) => el !== slot
                && !el.classList.contains("slot")).map(px)),
              cells: [...document.querySelectorAll("#result .wall .cell")].map(px),
              width: result.width, height: result.height};
    }""")
    assert sizes["slot"] > sizes["largestOther"], sizes
    assert min(sizes["cells"]) >= 24, sizes["cells"]
    assert sizes["width"] >= 0.9 * width and sizes["height"] >= 0.6 * height, sizes


def test_bag_label_keeps_its_code_on_one_line_and_the_barcode_centred(app, page):
    data = site_pages.populate(app)
    site_pages.log_in(page)
    page.emulate_media(media="print")
    page.goto(f"/staff/orders/{data.orders['ready']}/label")
    box = page.evaluate("""() => {
      const code = document.querySelector(".label .code");
      const range = document.createRange();
      range.selectNodeContents(code);
      const label = document.querySelector(".label").getBoundingClientRect();
      const bars = document.querySelector(".code128 svg").getBoundingClientRect();
      return {lines: new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size,
              codeWidth: code.scrollWidth, labelWidth: label.width,
              left: bars.left - label.left, right: label.right - bars.right};
    }""")
    assert box["lines"] == 1, box
    assert box["codeWidth"] <= box["labelWidth"], box
    assert abs(box["left"] - box["right"]) <= 2, box


def test_offers_page_keeps_long_urls_inside_their_cards(app, page):
    site_pages.populate(app)
    site_pages.log_in(page)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto("/staff/offers")
    outside = page.evaluate("""() => [...document.querySelectorAll(".offers-preview li")]
      .filter((card) => [...card.querySelectorAll("a, p")].some((el) =>
        el.getBoundingClientRect().right > card.getBoundingClientRect().right + 1))
      .map((card) => card.querySelector("h3").textContent)""")
    assert outside == []

