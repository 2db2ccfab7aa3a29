"""Staff pages for slot labels, clearance and statistics, through the test client."""

from __future__ import annotations

import datetime as dt

import pytest
from days import ORDINARY_TUESDAY
from factories import ACTOR, make_order
from staff_helpers import PASSWORD, login, make_user

from kiosk.domain import orders as order_ops
from kiosk.domain import shelving
from kiosk.models import Order

pytestmark = pytest.mark.time_machine(ORDINARY_TUESDAY)  # the day every test here means
TODAY = ORDINARY_TUESDAY.date()


@pytest.fixture
def config_overrides():
    """Open every day, so that "today" and "three days ago" are opening days whenever tests run."""
    return {"pickup": {"closed_weekdays": [], "holidays_country": ""}}


@pytest.fixture
def staff(client, app):
    login(client, app)
    return client


def overdue_order(session, station, slot="A-01", days_late=3) -> Order:
    order = make_order(session, slot=slot, station=station)
    order.deadline = TODAY - dt.timedelta(days=days_late)
    session.commit()
    return order


def test_every_reports_route_needs_a_login(app, client):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("staff_reports.")]
    assert len(rules) == 6  # clearance has a GET rule and a POST rule
    for rule in rules:
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(rule.rule, method=method)
            assert response.status_code == 302, (method, rule.rule)
            assert response.headers["Location"].startswith("/staff/login")
    response = client.post("/staff/clearance", data={"code": "KR-472"},
                           headers={"X-Requested-With": "fetch"})
    assert response.status_code == 401


def test_the_pages_are_in_the_staff_navigation(staff):
    page = staff.get("/staff/clearance").get_data(as_text=True)
    for path in ("/staff/clearance", "/staff/stats", "/staff/labels"):
        assert f'href="{path}"' in page


# --- clearance ------------------------------------------------------------------------

def test_clearance_lists_overdue_by_slot_and_due_today_apart(staff, session, station):
    late_b = overdue_order(session, station, "B-03")
    late_a = overdue_order(session, station, "A-04", days_late=10)
    due = make_order(session, slot="A-01", station=station)
    due.deadline = TODAY
    session.commit()
    page = staff.get("/staff/clearance").get_data(as_text=True)
    overdue, today = page.split('class="clearance-due-today"')
    assert overdue.index(late_a.pickup_code) < overdue.index(late_b.pickup_code)
    assert due.pickup_code not in overdue and due.pickup_code in today
    assert 'autofocus' in page and 'name="code"' in page


def test_scanning_an_overdue_bag_clears_it_and_frees_the_slot(staff, session, station):
    order = overdue_order(session, station, "A-02")
    make_order(session, slot="A-02", station=station)  # A-02 now full (capacity 2)
    response = staff.post("/staff/clearance", data={"code": order.pickup_code.lower()})
    assert response.status_code == 303
    page = staff.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Bag {order.pickup_code} cleared from A-02" in page
    session.expire_all()
    assert order.status == "expired" and order.place_id is None
    assert order.audit[-1].actor == "kari"  # the staff member, in the audit trail
    assert len(shelving.free_places(session, shelving.get_slot(session, "A-02", "main"))) == 1
    assert order.pickup_code not in page.split('class="clearance-overdue"')[1]

    again = staff.post("/staff/clearance", data={"code": order.pickup_code})
    assert again.status_code == 409
    assert "already cleared" in again.get_data(as_text=True)


def test_a_wrong_code_is_refused_loudly(staff, session, station):
    order = overdue_order(session, station)
    response = staff.post("/staff/clearance", data={"code": "N000000042"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'role="alert"' in page and "WRONG CODE" in page and 'class="staff alarm' in page
    response = staff.post("/staff/clearance", data={"code": "N000000042"},
                          headers={"X-Requested-With": "fetch"})
    assert response.status_code == 400 and response.json["ok"] is False
    assert "not a pickup code" in response.json["message"]
    empty = staff.post("/staff/clearance", data={"code": ""})
    assert empty.status_code == 400
    session.expire_all()
    assert order.status == "ready"


def test_a_bag_not_yet_expired_must_go_back(staff, session, station):
    order = make_order(session, slot="B-01", station=station)
    response = staff.post("/staff/clearance", data={"code": order.pickup_code},
                          headers={"X-Requested-With": "fetch"})
    assert response.status_code == 409
    assert "NOT EXPIRED" in response.json["message"] and "B-01" in response.json["message"]
    session.expire_all()
    assert order.status == "ready"


def test_a_fetch_scan_that_clears_asks_the_page_to_reload(staff, session, station):
    order = overdue_order(session, station)
    response = staff.post("/staff/clearance", data={"code": order.pickup_code},
                          headers={"X-Requested-With": "fetch"})
    assert response.status_code == 200 and response.json["ok"] is True
    assert response.json["redirect"] == "/staff/clearance"
    page = staff.get("/staff/clearance").get_data(as_text=True)
    assert page.count(f"Bag {order.pickup_code} cleared") == 1  # flashed, once


def test_a_post_without_csrf_token_is_refused(staff, app, session, station):
    order = overdue_order(session, station)
    app.config["WTF_CSRF_ENABLED"] = True
    response = staff.post("/staff/clearance", data={"code": order.pickup_code})
    assert response.status_code == 400
    session.expire_all()
    assert order.status == "ready"


@pytest.mark.browser
def test_clearing_with_a_scanner_in_chromium(page, app, session, station):
    late = [overdue_order(session, station, slot) for slot in ("A-03", "A-01")]
    make_user(app, "ola")
    page.goto("/staff/login?lang=en")
    page.fill("input[name=username]", "ola")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto("/staff/clearance")
    rows = page.locator(".clearance-overdue tr[data-pickup-code]")
    assert [rows.nth(i).get_attribute("data-pickup-code") for i in range(2)] == \
        [late[1].pickup_code, late[0].pickup_code]  # by slot: A-01 first

    page.keyboard.type("N000000001\n")  # the scanner types into the focused field
    error = page.locator(".scan-result.error")
    error.wait_for()
    assert "WRONG CODE" in error.inner_text()
    assert page.evaluate("document.body.dataset.lastBeep") == "error"

    page.keyboard.type(late[1].pickup_code + "\n")
    page.locator(".flash-success").wait_for()
    assert "cleared from A-01" in page.locator(".flash-success").inner_text()
    assert rows.count() == 1 and page.evaluate("document.activeElement.id") == "scan"
    session.expire_all()
    assert late[1].status == "expired" and late[1].place_id is None


# --- labels ---------------------------------------------------------------------------

def test_labels_page_and_sheets(staff):
    page = staff.get("/staff/labels").get_data(as_text=True)
    assert 'action="/staff/labels/sheet"' in page and '<option value="B">' in page
    sheet = staff.get("/staff/labels/sheet?format=html")
    assert sheet.status_code == 200 and sheet.mimetype == "text/html"
    assert sheet.get_data(as_text=True).count('class="label"') == 10
    shelf_b = staff.get("/staff/labels/sheet?format=svg&shelf=B")
    assert shelf_b.mimetype == "image/svg+xml"
    assert shelf_b.get_data(as_text=True).count('class="label"') == 4
    pdf = staff.get("/staff/labels/sheet?format=pdf&shelf=a")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert 'filename="slot-labels-A.pdf"' in pdf.headers["Content-Disposition"]


@pytest.mark.parametrize(("query", "status"), [("format=docx", 400), ("shelf=Q", 404)])
def test_bad_label_requests_get_clear_errors(staff, query, status):
    response = staff.get(f"/staff/labels/sheet?{query}")
    assert response.status_code == status


# --- statistics -----------------------------------------------------------------------

def noon(day: dt.date, hour: int = 12) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), dt.UTC)


@pytest.fixture
def history(session, station):
    """Three bags shelved on 2 June 2025: one collected after 4 h, one cleared, one waiting."""
    day = dt.date(2025, 6, 2)
    collected = make_order(session, slot="A-01", station=station)
    order_ops.collect(session, collected, ACTOR)
    collected.shelved_at, collected.closed_at = noon(day, 8), noon(day, 12)
    expired = make_order(session, slot="A-02", station=station)
    order_ops.expire(session, expired, ACTOR)
    expired.shelved_at, expired.closed_at = noon(day, 9), noon(day + dt.timedelta(days=9))
    waiting = make_order(session, slot="A-02", station=station)
    waiting.shelved_at = noon(day, 10)
    session.commit()


def test_statistics_page_shows_figures_and_charts(staff, history):
    page = staff.get("/staff/stats?start=2025-06-01&end=2025-06-14").get_data(as_text=True)
    assert '<strong id="total-ready">3</strong>' in page
    assert '<strong id="total-collected">1</strong>' in page
    assert '<strong id="total-expired">1</strong>' in page
    assert '<strong id="median">4.0 h</strong>' in page
    assert '<strong id="uncollected">50%</strong>' in page
    assert '<strong id="occupancy">1 / 24</strong>' in page
    assert page.count("<svg viewBox") == 3 and 'class="bar ready"' in page
    assert "02.06 · put on the shelf: 3" in page
    assert "/staff/stats.csv?by=week&amp;start=2025-06-01&amp;end=2025-06-14" in page


def test_statistics_default_to_the_last_four_weeks(staff):
    page = staff.get("/staff/stats").get_data(as_text=True)
    start = TODAY - dt.timedelta(days=27)
    assert f'value="{start.isoformat()}"' in page and f'value="{TODAY.isoformat()}"' in page


def test_csv_export(staff, history):
    response = staff.get("/staff/stats.csv?start=2025-06-01&end=2025-06-03")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.get_data(as_text=True).splitlines() == [
        "day,start,ready,collected,expired",
        "2025-06-01,2025-06-01,0,0,0",
        "2025-06-02,2025-06-02,3,1,0",
        "2025-06-03,2025-06-03,0,0,0",
    ]
    weeks = staff.get("/staff/stats.csv?by=week&start=2025-06-01&end=2025-06-14")
    assert weeks.get_data(as_text=True).splitlines() == [
        "week,start,ready,collected,expired",
        "2025-W22,2025-05-26,0,0,0",
        "2025-W23,2025-06-02,3,1,0",
        "2025-W24,2025-06-09,0,0,1",
    ]
    slots = staff.get("/staff/stats.csv?by=slot&start=2025-06-01&end=2025-06-14")
    rows = slots.get_data(as_text=True).splitlines()
    assert rows[:3] == ["slot,capacity,bags_now,bags_shelved", "A-01,2,0,1", "A-02,2,1,2"]


@pytest.mark.parametrize("query", ["start=yesterday", "start=2025-06-10&end=2025-06-01",
                                   "start=2000-01-01&end=2025-01-01", "by=month"])
def test_bad_statistics_requests_are_refused(staff, query):
    paths = ("/staff/stats.csv",) if "by=" in query else ("/staff/stats.csv", "/staff/stats")
    for path in paths:
        response = staff.get(f"{path}?{query}")
        assert response.status_code == 400, (path, query)
