"""Security of the staff pages: login required, CSRF on every form, lockout, timeout, roles."""

from __future__ import annotations

import re
import time

import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from staff_helpers import PASSWORD, login, make_user
from werkzeug.routing import Rule

from kiosk import create_app
from kiosk.domain import accounts
from kiosk.extensions import db
from kiosk.models import StaffUser

# The page nginx shows for an upload over its own limit: it is always a 413 and tells only
# the limit, so it needs no session (nginx serves it in place of the refused upload).
PUBLIC = {"staff.login", "staff.card_login", "upload_too_large"}
LOCKOUT = {"staff": {"lockout_attempts": 3, "lockout_minutes": 15}}


def staff_rules(app) -> list[Rule]:
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/staff")]
    assert len(rules) > 15  # the blueprint is there, with all its pages
    return rules


def url_of(rule: Rule) -> str:
    return rule.rule.replace("<int:", "<").replace("<path:", "<") \
        .replace("<", "{").replace(">", "}").format(
            **{arg: 1 if "int" in repr(rule._converters.get(arg)).lower() else "x"
               for arg in rule.arguments})


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                     r'name="csrf_token" value="([^"]+)"', html).group(1, 2)[0] or \
        re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_every_staff_page_refuses_a_request_without_a_session(client, app):
    assert client.get("/staff/upload-too-large").status_code == 413
    checked = 0
    for rule in staff_rules(app):
        if rule.endpoint in PUBLIC:
            continue
        for method in {"GET", "POST"} & rule.methods:
            r = client.open(url_of(rule), method=method)
            assert r.status_code in (302, 303, 401), (rule.rule, method, r.status_code)
            if r.status_code != 401:
                assert r.location.startswith("/staff/login"), (rule.rule, r.location)
            checked += 1
    assert checked > 15


def test_fetch_requests_without_a_session_get_401_json(client):
    r = client.post("/staff/packing/1/item", data={"code": "1"},
                    headers={"X-Requested-With": "fetch"})
    assert r.status_code == 401 and r.json["error"] == "login required"


def test_login_page_redirects_back_only_inside_staff_pages(client, app):
    r = client.get("/staff/shelves")
    assert r.location == "/staff/login?next=/staff/shelves"
    make_user(app)
    r = client.post("/staff/login", data={"username": "kari", "password": PASSWORD,
                                          "next": "https://evil.example/"})
    assert r.location == "/staff/"


@pytest.fixture
def csrf_app(make_settings):
    app = create_app(make_settings(), {"TESTING": True, "WTF_CSRF_ENABLED": True})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_every_staff_form_without_a_csrf_token_is_refused(csrf_app):
    client = csrf_app.test_client()
    make_user(csrf_app, role="admin")
    r = client.post("/staff/login", data={"username": "kari", "password": PASSWORD})
    assert r.status_code == 400  # the login form itself
    token = csrf_token(client.get("/staff/login").get_data(as_text=True))
    r = client.post("/staff/login", data={"username": "kari", "password": PASSWORD,
                                          "csrf_token": token})
    assert r.status_code == 302
    checked = 0
    for rule in staff_rules(csrf_app):
        if "POST" not in rule.methods or rule.endpoint == "staff.card_login":
            continue
        r = client.post(url_of(rule), data={"code": "x", "slot": "A-01"})
        assert r.status_code == 400, (rule.rule, r.status_code)
        assert "CSRF" in r.get_data(as_text=True)
        checked += 1
    assert checked > 10
    assert client.get("/staff/packing").status_code == 200  # still logged in
    page = client.get("/staff/packing").get_data(as_text=True)
    r = client.post("/staff/logout", data={"csrf_token": csrf_token(page)})
    assert r.status_code == 302 and client.get("/staff/packing").status_code == 302


def post_login(client, name, password, address="10.0.0.9"):
    return client.post("/staff/login?lang=en", data={"username": name, "password": password},
                       environ_base={"REMOTE_ADDR": address})


@pytest.mark.parametrize("config_overrides", [LOCKOUT])
def test_lockout_is_per_address_and_does_not_lock_the_owner_out(client, app, session):
    user_id = make_user(app)
    for _ in range(2):
        r = post_login(client, "kari", "wrong!")
        assert r.status_code == 401 and "Wrong username or password" in r.get_data(as_text=True)
    r = post_login(client, "kari", "wrong!")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 60  # the third locks
    r = post_login(client, "kari", PASSWORD)
    assert r.status_code == 429 and "locked" in r.get_data(as_text=True)
    assert client.get("/staff/packing").status_code == 302
    # the owner at the desk logs in all the same
    desk = app.test_client()
    assert post_login(desk, "kari", PASSWORD, "10.0.0.2").status_code == 302
    # guessing from many addresses locks the account everywhere (the slower limit: 3 × 10)
    for n in range(30):
        post_login(app.test_client(), "kari", "wrong!", f"10.0.1.{n}")
    assert post_login(app.test_client(), "kari", PASSWORD, "10.0.0.3").status_code == 429
    admin = app.test_client()
    login(admin, app, "anne", role="admin")
    assert "locked" in admin.get("/staff/users").get_data(as_text=True)
    assert admin.post(f"/staff/users/{user_id}/unlock").status_code == 303
    assert post_login(app.test_client(), "kari", PASSWORD, "10.0.0.3").status_code == 302
    # unlocking ended kari's sessions, the one at the desk too
    assert desk.get("/staff/packing").status_code == 302


def _answer(response, name: str, verified: list):
    """Return what a client can tell apart: status, headers, page and hashes computed."""
    headers = {k: re.sub(r"session=[^;]*", "session=…", v)  # the cookie's random CSRF token
               for k, v in response.headers.items()}
    body = re.sub(r'(name="csrf[_-]token"[^>]*value|content)="[^"]*"', "",
                  response.get_data(as_text=True)).replace(f'value="{name}"', "")
    hashes = len(verified)
    verified.clear()
    return response.status_code, headers, body, hashes


class CountingHasher(PasswordHasher):
    """The suite's argon2 hasher, counting verifications (the timing class of an answer)."""

    verified: list = []

    def verify(self, hash, password):
        self.verified.append(1)
        return super().verify(hash, password)


@pytest.mark.parametrize("config_overrides", [LOCKOUT])
def test_an_unknown_name_answers_exactly_like_a_known_one(app):
    make_user(app)
    # one instant for every attempt: Retry-After of the two names cannot differ by a tick
    app.extensions["login_throttle"]._clock = lambda: 1000.0
    hasher = CountingHasher.from_parameters(CHEAPEST)
    previous = accounts._hasher
    accounts.use_hasher(hasher)
    try:
        known, unknown = app.test_client(), app.test_client()
        answers = []
        for _ in range(5):  # failures, then the lockout: the same status, headers and page
            a = _answer(post_login(known, "kari", "nope"), "kari", hasher.verified)
            b = _answer(post_login(unknown, "karl", "nope"), "karl", hasher.verified)
            assert a == b
            answers.append((a[0], a[3]))
    finally:
        accounts.use_hasher(previous)
    # one argon2 hash per tried password, none once the name is locked
    assert answers == [(401, 1), (401, 1), (429, 1), (429, 0), (429, 0)]


def test_session_times_out_after_idle_minutes(client, app):
    r = login(client, app)
    assert "Expires=" in r.headers["Set-Cookie"]  # a permanent session with a lifetime
    assert client.get("/staff/packing").status_code == 200
    with client.session_transaction() as sess:
        sess["staff_seen"] = int(time.time()) - 29 * 60  # 30 minutes in the test config
    assert client.get("/staff/packing").status_code == 200  # activity renews the session
    with client.session_transaction() as sess:
        sess["staff_seen"] = int(time.time()) - 31 * 60
    r = client.get("/staff/packing")
    assert r.status_code == 302 and "timeout=1" in r.location
    assert "timed out" in client.get(r.location).get_data(as_text=True)
    assert client.get("/staff/packing").status_code == 302


def test_requests_that_change_nothing_leave_the_cookie_alone(client, app):
    """A slow request that carried an older cookie must not bring back a flash already shown.

    Chromium showed "now scan the slot label" a second time after shelving a bag: a
    request sent with the cookie that still held the message wrote it back.
    """
    login(client, app)
    assert client.get("/staff/packing").status_code == 200
    for path in ("/static/css/staff.css", "/staff/packing", "/staff/no-such-page"):
        response = client.get(path)
        response.close()
        assert "Set-Cookie" not in response.headers, path
    with client.session_transaction() as sess:
        sess["staff_seen"] = int(time.time()) - 60
    response = client.get("/staff/packing")  # activity is still recorded, to the half minute
    assert "Set-Cookie" in response.headers


def test_a_cookie_saved_before_logout_no_longer_opens_staff_pages(client, app):
    login(client, app)
    saved = client.get_cookie("session").value
    page = client.get("/staff/packing").get_data(as_text=True)
    assert client.post("/staff/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", saved)
    assert thief.get("/staff/packing").status_code == 302


def test_logout_ends_every_session_of_that_user(client, app):
    login(client, app)
    other = app.test_client()
    assert other.post("/staff/login", data={"username": "kari", "password": PASSWORD}) \
        .status_code == 302
    assert other.post("/staff/logout").status_code == 302
    assert client.get("/staff/packing").status_code == 302


def test_role_change_password_change_and_removal_end_sessions(client, app, session):
    login(client, app)
    for change in (lambda u: accounts.set_role(session, u, "admin"),
                   lambda u: accounts.set_password(session, u, PASSWORD),
                   lambda u: accounts.remove_user(session, u)):
        assert client.post("/staff/login", data={"username": "kari", "password": PASSWORD}) \
            .status_code == 302
        assert client.get("/staff/packing").status_code == 200
        change(accounts.find_user(session, "kari"))
        session.commit()
        assert client.get("/staff/packing").status_code == 302


def test_deleted_account_ends_the_session(client, app, session):
    login(client, app)
    session.query(StaffUser).delete()
    session.commit()
    assert client.get("/staff/packing").status_code == 302


def test_roles_staff_and_admin(client, app):
    login(client, app, "kari", role="staff")
    assert client.get("/staff/users").status_code == 403
    assert client.post("/staff/users", data={"username": "x1", "password": "p" * 9,
                                             "role": "admin"}).status_code == 403
    assert "/staff/users" not in client.get("/staff/packing").get_data(as_text=True)
    admin = app.test_client()
    login(admin, app, "anne", role="admin")
    assert "/staff/users" in admin.get("/staff/packing").get_data(as_text=True)
    r = admin.post("/staff/users", data={"username": "ola", "password": "long enough",
                                         "role": "staff"})
    assert r.status_code == 303
    r = admin.post("/staff/users", data={"username": "ola", "password": "long enough",
                                         "role": "staff"})
    assert r.status_code == 422 and "exists already" in r.get_data(as_text=True)
    r = admin.post("/staff/users", data={"username": "per", "password": "short",
                                         "role": "staff"})
    assert r.status_code == 422 and "at least 8" in r.get_data(as_text=True)


PIN_ON = {"kiosk": {"staff_pin": True}}


@pytest.mark.parametrize("config_overrides", [PIN_ON])
def test_card_and_pin_switch_a_kiosk_into_staff_mode(client, app):
    make_user(app, card="S0001", pin="4711")
    r = client.post("/staff/card-login", json={"card": "S0001", "pin": "0000"})
    assert r.status_code == 401 and r.json["error"] == "wrong card or PIN"
    r = client.post("/staff/card-login", json={"card": "S0001", "pin": "4711"})
    assert r.status_code == 200 and r.json == {"ok": True, "user": "kari",
                                               "redirect": "/staff/"}
    assert client.get("/staff/packing").status_code == 200


@pytest.mark.parametrize("config_overrides", [{**PIN_ON, **LOCKOUT}])
def test_card_login_bad_input_and_lockout(client, app):
    make_user(app, card="S0001", pin="4711")
    assert client.post("/staff/card-login", data={"card": "S0001", "pin": "4711"}) \
        .status_code == 415
    assert client.post("/staff/card-login", json={"card": "S0001"}).status_code == 400
    assert client.post("/staff/card-login", json=["S0001"]).status_code == 400
    for _ in range(3):
        client.post("/staff/card-login", json={"card": "S0001", "pin": "1234"})
    r = client.post("/staff/card-login", json={"card": "S0001", "pin": "4711"})
    assert r.status_code == 429


def test_card_login_is_off_unless_configured(client, app):
    make_user(app, card="S0001", pin="4711")
    r = client.post("/staff/card-login", json={"card": "S0001", "pin": "4711"})
    assert r.status_code == 404
    assert client.get("/staff/packing").status_code == 302
