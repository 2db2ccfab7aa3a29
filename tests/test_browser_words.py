"""Every word on every page goes through the catalogue: the pseudo-locale test.

The pages are served in a pseudo-locale built from messages.pot (tests/pseudo_locale.py)
where every translated text shows as ⟦text⟧. Real Chromium visits every staff and patron
page of the URL map (logged in as an admin, with data in every table) and reads every
visible text node and the texts of attributes people see or hear (placeholder, title,
aria-label, alt, button values, the page title). A word outside the marks fails the test.

What is not a word here (the allowlist rule):
- text inside an element with translate="no" (HTML's own "do not translate": codes,
  barcodes, language names), inside <time>, or in an element whose lang differs from
  the page's (a language's own name);
- any word holding a digit (numbers, dates, times, pickup codes, slot labels, cards);
- the data values of the test data (titles, names, refs, the station's name, offers).
"""

from __future__ import annotations

import re

import pytest
import site_pages
from playwright.sync_api import expect
from pseudo_locale import CODE, build, unmarked

from kiosk import create_app
from kiosk.appsetup import LANGUAGES, PACKAGE
from kiosk.extensions import db
from kiosk.schema import upgrade_database

pytestmark = pytest.mark.browser

# Visible text nodes and the texts of attributes, each with where it was found.
COLLECT = """() => {
  const pageLang = document.documentElement.lang;
  const exempt = (el) => {
    if (el.closest('[translate="no"], time, script, style, noscript, template')) return true;
    const tagged = el.closest("[lang]");
    return tagged !== null && tagged.lang !== pageLang;
  };
  const where = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
    + (el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : "");
  const found = [{text: document.title, where: "title"}];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let el = node.parentElement;
    let text = node.textContent.trim();
    if (!text || exempt(el)) continue;
    const shown = el.tagName === "OPTION" || el.checkVisibility({visibilityProperty: true});
    // A translated text with an element inside (a code kept on one line) spans several
    // text nodes: read the element that holds the whole of it.
    const balanced = (t) => t.split("⟦").length === t.split("⟧").length;
    while (!balanced(text) && el.parentElement && el !== document.body) {
      el = el.parentElement;
      text = el.textContent.trim();
    }
    if (shown) found.push({text, where: where(el)});
  }
  for (const el of document.body.querySelectorAll(
      "[placeholder], [title], [aria-label], img[alt], input[type=submit], input[type=button]")) {
    if (exempt(el) || !el.checkVisibility({visibilityProperty: true})) continue;
    for (const attr of ["placeholder", "title", "aria-label", "alt", "value"]) {
      const text = (el.getAttribute(attr) || "").trim();
      if (text && (attr !== "value" || el.tagName === "INPUT")) {
        found.push({text, where: where(el) + "@" + attr});
      }
    }
  }
  return found;
}"""


@pytest.fixture
def config_overrides():
    return site_pages.CONFIG


@pytest.fixture
def app(make_settings, config_overrides, tmp_path):
    """The station with the pseudo-locale as one more language (only in this test)."""
    folder = build(tmp_path / "pseudo")
    app = create_app(make_settings(config_overrides), {
        "TESTING": True, "WTF_CSRF_ENABLED": False, "KIOSK_LANGUAGES": (*LANGUAGES, CODE),
        "BABEL_TRANSLATION_DIRECTORIES": f"{PACKAGE / 'translations'};{folder}"})
    upgrade_database(app)
    app.config["KIOSK_LOGIN_DELAY_S"] = 0
    app.config["KIOSK_SSE_KEEPALIVE_S"] = 0.5
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def english_on(page, values: list[str]) -> list[tuple[str, str, list[str]]]:
    """Return each text of the page showing words outside the marks, with where it is."""
    page.wait_for_load_state("load")
    out = []
    for found in page.evaluate(COLLECT):
        words = unmarked(found["text"], values)
        if words:
            out.append((found["where"], found["text"][:120], words))
    return out


def test_every_page_shows_only_catalogue_words(app, page, browser, live_server):
    data = site_pages.populate(app)
    problems: dict[str, list] = {}

    def check(url: str, what: str | None = None) -> None:
        if url is not None:
            page.goto(url)
        found = english_on(page, data.values)
        if found:
            problems[what or url] = found

    # logged out: the login page, and an error page
    check(f"/staff/login?lang={CODE}")
    assert page.locator("html").get_attribute("lang") == CODE
    check("/staff/no-such-page")
    site_pages.log_in(page)
    # a good import, whose status page has the token the URL map needs
    data.ids["token"] = site_pages.import_token(page)
    client = site_pages.test_client_login(app)
    client.get(f"/?lang={CODE}")
    pages, left_out = site_pages.html_pages(app, client, data)
    assert {"/", "/staff/packing", "/staff/stats", "/staff/offers", "/staff/ils/"} <= set(pages)
    for url in [*pages, *site_pages.order_pages(data)]:
        check(url)
    # the patron screen's results: drawn by its script from the catalogue's texts
    page.goto("/")
    expect(page.locator("html")).to_have_class(re.compile(r"\bjs-ready\b"))
    check(None, "patron idle screen")
    page.evaluate("""code => {
        for (const key of [...code, "Enter"]) {
            document.dispatchEvent(new KeyboardEvent("keydown", {key, bubbles: true}));
        }
    }""", site_pages.CARD)
    expect(page.locator("html")).to_have_attribute("data-results-shown", "1")
    expect(page.locator("#result")).to_be_visible()
    check(None, "patron result: bags ready")
    # answers of the staff pages' scan fields, shown by staff.js
    page.goto(f"/staff/packing/{data.orders['received']}")
    page.locator("#scan").fill("0000000000")
    page.locator("#scan").press("Enter")
    expect(page.locator(".scan-result")).to_be_visible()
    check(None, "packing: a wrong item")
    page.locator("#packed").click()
    expect(page.locator(".flash-error").first).to_be_visible()
    check(None, "packing: Packed refused")
    assert not problems, "\n".join(
        f"{where}:\n" + "\n".join(f"    {w} {t!r}: {words}" for w, t, words in found)
        for where, found in problems.items()) + f"\n(pages visited: {len(pages)}; left out: " \
        f"{left_out})"


def test_import_problems_show_only_catalogue_words(app, page):
    data = site_pages.populate(app)
    site_pages.log_in(page, CODE)
    site_pages.upload(page, "bad.csv", site_pages.BAD_CSV)
    found = english_on(page, [*data.values, "bad.csv"])
    assert not found, found
