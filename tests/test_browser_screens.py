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
from factories import make_order
from playwright.sync_api import expect

from kiosk.extensions import db

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


def show_result(page, card: str = site_pages.CARD) -> None:
    """Scan a card on the patron screen and wait for its result."""
    page.goto("/?lang=nb")
    expect(page.locator("html")).to_have_class(re.compile(r"\bjs-ready\b"))
    page.evaluate("""code => {
        for (const key of [...code, "Enter"]) {
            document.dispatchEvent(new KeyboardEvent("keydown", {key, bubbles: true}));
        }
    }""", card)
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


# How the result uses the screen: font sizes, the cards' width, the page's own scroll size, the
# largest band of the screen's height with nothing in it (between the result's top and the
# bottom of the window), and the words of the "I have collected" buttons as shown.
FILL = r"""() => {
  const px = (el) => parseFloat(getComputedStyle(el).fontSize);
  const hasText = (el) => [...el.childNodes].some((n) => n.nodeType === 3
                                                   && n.textContent.trim());
  const shown = [...document.querySelectorAll("#result *")].filter((el) => el.checkVisibility());
  const texts = shown.filter(hasText);
  const slot = document.querySelector("#result .pickup .slot");
  const result = document.querySelector("#result").getBoundingClientRect();
  const cards = [...document.querySelectorAll("#result .pickup")]
    .map((c) => c.getBoundingClientRect());
  const filled = ".pickup, .shelf, .after-offer, img, svg, button";
  const boxes = shown.filter((el) => hasText(el) || el.matches(filled))
    .map((el) => el.getBoundingClientRect()).filter((r) => r.height > 0)
    .map((r) => [Math.max(r.top, result.top), Math.min(r.bottom, innerHeight)])
    .sort((a, b) => a[0] - b[0]);
  let reached = result.top, emptiest = 0;
  for (const [top, bottom] of boxes) {
    emptiest = Math.max(emptiest, top - reached);
    reached = Math.max(reached, bottom);
  }
  emptiest = Math.max(emptiest, innerHeight - reached);
  return {slot: px(slot),
          largestOther: Math.max(...texts.filter((el) => !el.classList.contains("slot")).map(px)),
          cells: [...document.querySelectorAll("#result .wall .cell")].map(px),
          cardsWidth: Math.max(...cards.map((c) => c.right))
                      - Math.min(...cards.map((c) => c.left)),
          scrollWidth: document.documentElement.scrollWidth,
          scrollHeight: document.documentElement.scrollHeight,
          emptiest,
          done: document.querySelector("#result .result-footer .button:last-child")
                  .getBoundingClientRect().bottom,
          buttons: [...document.querySelectorAll("#result .collect button")]
                     .map((b) => b.innerText)};
}"""


@pytest.mark.parametrize("bags", ["one slot", "two slots"])
@pytest.mark.parametrize("size", ["landscape", "portrait"])
def test_patron_result_fills_the_screen_with_the_slot_largest(app, page, size, bags):
    """Landscape 1920×1080 and portrait 1080×1920, one slot or two: the result fits the window
    without scrolling either way, the cards take most of the width (all of it in portrait),
    no band of more than 15 % of the height stays empty, the slot label is the largest text,
    shelf-wall cells are 24 px or more, and "I have collected AB-123" keeps its space."""
    site_pages.populate(app)
    card = site_pages.CARD
    if bags == "one slot":
        card = "N000000321"
        with app.app_context():
            make_order(db.session, card=card, items=2, slot="A-05",
                       station=app.extensions["station"])
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    show_result(page, card)
    found = page.evaluate(FILL)
    assert found["slot"] > found["largestOther"], found
    assert min(found["cells"]) >= 24, found["cells"]
    assert found["scrollWidth"] <= width and found["scrollHeight"] <= height, found
    assert found["done"] <= height, found
    assert found["cardsWidth"] >= (0.9 if size == "portrait" else 0.5) * width, found
    assert found["emptiest"] <= 0.15 * height, found
    with_code = [b for b in found["buttons"] if re.search(r"[A-Z]{2}-\d{3}$", b)]
    assert all(re.fullmatch(r"Jeg har hentet [A-Z]{2}-\d{3}", b) for b in with_code), with_code
    assert len(with_code) == (2 if bags == "two slots" else 0), found["buttons"]


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

