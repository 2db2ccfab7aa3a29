"""Numbers past the database's integer range: 404 for ids, 400 for offsets and pages.

Walks every route of the URL map: each `<int:...>` argument gets huge and negative values,
and every GET route gets huge and negative int query parameters; logged in as admin, with
an API token, on SQLite or PostgreSQL (int4 ids: 2^31 is already past the range there).
"""

from __future__ import annotations

import pytest
from staff_helpers import login

TOKEN = "s3cret-token-for-the-ils-0123456789"
HUGE_IDS = [2**31, 2**63, 10**40]
INT_PARAMS = ("offset", "limit", "page")
HUGE_VALUES = ["9223372036854775808", "-1", "-9223372036854775809"]


@pytest.fixture
def config_overrides(tmp_path):
    path = tmp_path / "api-tokens"
    path.write_text(f"{TOKEN}\n")
    return {"api": {"tokens_file": str(path)}, "kiosk": {"staff_pin": True}}


@pytest.fixture
def admin(client, app):
    login(client, app, "anne", role="admin")
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {TOKEN}"
    return client


def int_rules(app):
    rules = [r for r in app.url_map.iter_rules()
             if any(type(c).__name__.endswith("IntegerConverter")
                    for c in r._converters.values())]
    assert len(rules) >= 17
    return rules


def url(rule, value) -> str:
    path = rule.rule
    for arg, conv in rule._converters.items():
        path = path.replace(f"<{type(conv).__name__}:{arg}>", "").replace(
            f"<int:{arg}>", str(value))
    return path


@pytest.mark.parametrize("value", HUGE_IDS + [-1])
def test_every_route_with_an_id_answers_404_past_the_range(admin, app, value):
    for rule in int_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = url(rule, value)
            r = admin.open(path, method=method, json={})
            assert r.status_code == 404, (method, path, r.status_code)


def test_ids_at_the_top_of_the_range_are_simply_not_found(admin, app):
    for rule in int_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            r = admin.open(url(rule, 2**31 - 1), method=method, json={})
            assert r.status_code < 500, (method, rule.rule, r.status_code)


@pytest.mark.parametrize("value", HUGE_VALUES)
def test_int_query_parameters_past_the_range_are_refused_never_a_500(admin, app, value):
    routes = [r for r in app.url_map.iter_rules()
              if "GET" in r.methods and not r.arguments and "events" not in r.rule]
    assert len(routes) > 20
    for rule in routes:
        r = admin.get(f"{rule.rule}?" + "&".join(f"{name}={value}" for name in INT_PARAMS))
        r.close()
        assert r.status_code < 500, (rule.rule, r.status_code)
    for path, name in [("/api/v1/orders", "offset"), ("/api/v1/orders", "limit"),
                       ("/staff/orders", "page")]:
        r = admin.get(f"{path}?{name}={value}")
        assert r.status_code == 400, (path, name, value, r.status_code)


def test_the_largest_offset_is_answered(admin):
    r = admin.get("/api/v1/orders?offset=9223372036854775807")
    assert r.status_code == 200 and r.json["orders"] == []
    r = admin.get("/staff/orders?page=184467440737095516")
    assert r.status_code == 200
