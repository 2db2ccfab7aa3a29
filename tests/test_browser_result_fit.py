"""The patron result fits the screen without scrolling, however many bags wait, in Chromium.

Up to six bags in one slot and up to four slots, with titles, the after-pickup offer, an order
still being packed and "I have collected" buttons (self-collect on): at 1920×1080 landscape,
1080×1920 portrait and 1366×768, the page neither scrolls down nor sideways, and "Done",
"More time" and every "I have collected" button lie wholly inside the window.
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
CARD = "N000000555"
# Bags per slot in each case: six in one slot, four slots, and a spread of six in four.
CASES = {"6 bags in 1 slot": {"A-05": 6},
         "2 bags in 1 slot": {"A-05": 2},
         "4 slots": {"A-01": 1, "A-03": 1, "B-02": 1, "B-04": 1},
         "6 bags in 4 slots": {"A-01": 3, "A-03": 1, "B-02": 1, "B-04": 1},
         "8 bags in 4 slots": {"A-01": 2, "A-03": 2, "B-02": 2, "B-04": 2}}

MEASURE = r"""() => {
  const box = (el) => { const r = el.getBoundingClientRect();
                        return {text: el.innerText, top: r.top, bottom: r.bottom,
                                left: r.left, right: r.right, height: r.height}; };
  const footer = [...document.querySelectorAll("#result .result-footer button")];
  return {scrollHeight: document.documentElement.scrollHeight,
          scrollWidth: document.documentElement.scrollWidth,
          bodyScroll: document.body.scrollHeight,
          buttons: [...footer, ...document.querySelectorAll("#result .collect button")].map(box),
          collect: document.querySelectorAll("#result .collect button").length,
          slots: [...document.querySelectorAll("#result .pickup .slot")].map((s) => s.innerText)};
}"""


def show_result(page, card: str) -> None:
    """Scan a card on the patron screen as a wedge scanner types it; wait for its result."""
    page.goto("/?lang=nb")
    expect(page.locator("html")).to_have_class(re.compile(r"\bjs-ready\b"))
    page.evaluate("""code => {
        for (const key of [...code, "Enter"]) {
            document.dispatchEvent(new KeyboardEvent("keydown", {key, bubbles: true}));
        }
    }""", card)
    expect(page.locator("html")).to_have_attribute("data-results-shown", "1")
    expect(page.locator("#result .pickup").first).to_be_visible()


@pytest.fixture
def config_overrides():
    # Titles and names shown (the most there is to show); slots that hold six bags each.
    return {**site_pages.CONFIG,
            "kiosk": {**site_pages.CONFIG["kiosk"], "show_titles": True, "show_names": True},
            "shelves": [{"name": "A", "slots": 6, "capacity": 6},
                        {"name": "B", "slots": 4, "capacity": 6}]}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("size", list(SIZES))
def test_result_fits_without_scrolling(app, page, size, case):
    station = app.extensions["station"]
    bags = 0
    with app.app_context():
        for slot, count in CASES[case].items():
            for _ in range(count):
                make_order(db.session, card=CARD, items=3, slot=slot, station=station)
                bags += 1
        make_order(db.session, card=CARD, items=1)  # still being packed: "1 more order"
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    show_result(page, CARD)
    expect(page.locator("#result .collect button")).to_have_count(bags)
    found = page.evaluate(MEASURE)
    assert sorted(set(found["slots"])) == sorted(CASES[case]), found["slots"]
    assert found["scrollHeight"] <= height, (size, case, found["scrollHeight"])
    assert found["scrollWidth"] <= width, (size, case, found["scrollWidth"])
    assert len(found["buttons"]) == bags + 2, found["buttons"]
    outside = [b for b in found["buttons"]
               if b["top"] < 0 or b["left"] < 0 or b["bottom"] > height or b["right"] > width
               or b["height"] < 44]
    assert not outside, (size, case, outside)


@pytest.mark.parametrize("size", ["landscape", "laptop"])
def test_result_still_fits_after_a_button_answers(app, page, size):
    """The thanks under a pressed "I have collected" button is a line more: fitted again."""
    station = app.extensions["station"]
    with app.app_context():
        for _ in range(6):
            make_order(db.session, card=CARD, items=3, slot="A-05", station=station)
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    show_result(page, CARD)
    for button in page.locator("#result .collect button").all()[-2:]:
        button.click()
    expect(page.locator("#result .collect .action-status:not(:empty)")).to_have_count(2)
    found = page.evaluate(MEASURE)
    assert found["scrollHeight"] <= height and found["scrollWidth"] <= width, found
    outside = [b for b in found["buttons"] if b["bottom"] > height or b["right"] > width]
    assert not outside, outside
