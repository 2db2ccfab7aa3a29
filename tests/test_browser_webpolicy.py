"""The shared web policy in real Chromium: every page under its Content-Security-Policy
without a violation, and Secure cookies on the station's own loopback.

The pages come from the app's URL map (logged in as an admin), so a page added later is
opened too. A violation (an inline script or handler, an inline style, a foreign script)
shows as a `securitypolicyviolation` event in the page and as a console error.
"""

from __future__ import annotations

import re

import pytest
from factories import make_order
from playwright.sync_api import expect
from staff_helpers import PASSWORD, make_user
from test_browser_patron import OFFERS, open_screen, scan

from kiosk.webpolicy import CSP

pytestmark = pytest.mark.browser

# Not pages: a never-ending event stream, static files, a CSV download, an empty 204.
NOT_PAGES = {"static", "favicon", "patron.events", "staff_reports.statistics_csv",
             "patron.ping", "offers.image"}

RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`
    + ` at ${e.sourceFile}:${e.lineNumber} (${e.sample})`);
});
"""


def watch(page) -> list[str]:
    """Record CSP violations and console errors of page; return the list they go to."""
    problems: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" and "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


def violations(page) -> list[str]:
    return page.evaluate("window.__violations || []")


def page_urls(app, order_id: int) -> list[str]:
    """Return one URL for every GET route of the app, with real ids filled in."""
    values = {"order_id": order_id, "token": "no-such-import"}
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_PAGES:
            continue
        urls.append(rule.build({k: values[k] for k in rule.arguments})[1])
    return sorted(set(urls))


@pytest.mark.parametrize("config_overrides", [{"offers": OFFERS,
                                               "kiosk": {"idle_seconds": 600}}])
def test_every_page_keeps_to_its_content_security_policy(page, app, session, station):
    make_user(app, "admin", role="admin")
    app.config["KIOSK_LOGIN_DELAY_S"] = 0
    order = make_order(session, card="N123456789", slot="A-02", station=station)
    problems = watch(page)

    # The patron screen with its script running, idle and with a result.
    open_screen(page)
    scan(page, "N123456789")
    expect(page.locator("p.slot").first).to_have_text("A-02")
    assert violations(page) == []

    page.goto("/staff/login?lang=en")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/staff/login"))

    seen = 0
    for url in page_urls(app, order.id):
        response = page.goto(url)
        assert response is not None, url
        policy = response.headers.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in policy, (url, policy)
        assert "unsafe-inline" not in policy.split("script-src")[-1].split(";")[0], url
        assert response.headers.get("x-content-type-options") == "nosniff", url
        assert response.headers.get("referrer-policy"), url
        page.wait_for_load_state("load")
        assert violations(page) == [], url
        seen += 1
    assert seen >= 25  # the URL map was walked, not an empty list
    # A printable document (slot labels) has its own, still script-free, policy.
    response = page.goto("/staff/labels/sheet?format=html")
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert violations(page) == []
    assert problems == []


def test_the_policy_forbids_inline_scripts_and_framing():
    assert "script-src 'self'" in CSP and "unsafe" not in CSP
    assert "frame-ancestors 'none'" in CSP


@pytest.mark.parametrize("config_overrides", [{"server": {"secure_cookies": True}}])
def test_secure_cookies_still_log_in_on_the_stations_own_loopback(page, app):
    """The kiosk's own browser (staff mode, a desk) talks plain HTTP to 127.0.0.1: Chromium
    takes loopback as a secure context and keeps the Secure session cookie."""
    app.config["KIOSK_LOGIN_DELAY_S"] = 0
    make_user(app, "kari")
    page.goto("/staff/login?lang=en")
    page.get_by_label("Username").fill("kari")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/staff/packing"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "session")
    assert cookie["secure"] and cookie["httpOnly"]
    page.goto("/staff/shelves")
    expect(page).to_have_url(re.compile(r"/staff/shelves"))  # still logged in
