"""The integration API: tokens, orders in, listing, shelving, collection, errors, OpenAPI."""

from __future__ import annotations

import json
import logging
import os

import pytest
from factories import make_order
from openapi_spec_validator import validate

from kiosk.domain import audit
from kiosk.extensions import db
from kiosk.models import AuditEvent, Order

TOKEN = "s3cret-token-for-the-ils-0123456789"
OTHER = "another-valid-token-abcdefghijklmnop"


@pytest.fixture
def tokens_file(tmp_path):
    path = tmp_path / "api-tokens"
    path.write_text(f"# tokens for /api/v1\n\n{TOKEN}\n   \n# old: {OTHER}\n")
    return path


@pytest.fixture
def config_overrides(tokens_file):
    return {"api": {"tokens_file": str(tokens_file)}}


@pytest.fixture
def api(client):
    """Call the API with the good token."""

    def call(method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kwargs)

    return call


def new_order(**extra):
    body = {"ref": "ils-1001", "card": "N123456789", "branch": "main",
            "items": [{"barcode": "03001234", "title": "Sult"}, {"barcode": "03005678"}]}
    return {**body, **extra}


# --- tokens ----------------------------------------------------------------------------

BAD_HEADERS = [None, "Bearer wrong-token-0123456789abc", f"Basic {TOKEN}", "Bearer",
               f"Bearer {OTHER}", f"bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"]


def test_missing_or_wrong_token_is_401_json(client):
    for header in BAD_HEADERS:
        headers = {"Authorization": header} if header else {}
        for method, path in (("GET", "/orders"), ("GET", "/orders/1"), ("POST", "/orders")):
            response = client.open(f"/api/v1{path}", method=method, headers=headers)
            assert response.status_code == 401, (header, path)
            assert response.get_json()["error"] == "unauthorized"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("config_overrides", [{}])
def test_without_tokens_file_the_api_is_off(client, config_overrides):
    response = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 401
    assert "tokens_file" in response.get_json()["detail"]


def test_tokens_file_is_read_again_when_it_changes(client, api, tokens_file):
    assert api("GET", "/orders").status_code == 200
    tokens_file.write_text(f"{OTHER}\n")
    st = tokens_file.stat()
    os.utime(tokens_file, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert api("GET", "/orders").status_code == 401
    other = client.get("/api/v1/orders", headers={"Authorization": f"Bearer {OTHER}"})
    assert other.status_code == 200


def test_removed_tokens_file_locks_everyone_out(api, tokens_file):
    tokens_file.unlink()
    assert api("GET", "/orders").status_code == 401


def test_lowercase_scheme_is_accepted(client):
    response = client.get("/api/v1/orders", headers={"Authorization": f"bearer {TOKEN}"})
    assert response.status_code == 200


# --- creating orders ---------------------------------------------------------------------

def test_post_order_creates_it_with_pickup_code(api, session):
    response = api("POST", "/orders", json=new_order())
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "received" and body["ref"] == "ils-1001"
    assert body["card"] == "N123456789" and body["branch"] == "main"
    assert len(body["pickup_code"]) == 6 and body["slot"] is None
    assert [i["barcode"] for i in body["items"]] == ["03001234", "03005678"]
    assert response.headers["Location"].endswith(f"/api/v1/orders/{body['id']}")
    order = session.get(Order, body["id"])
    assert order.source == "api"
    assert [(e.actor, e.station, e.action) for e in order.audit] == [
        ("api", "Test station", "created")]


def test_card_is_normalised_and_branch_defaults_to_the_station(api):
    body = api("POST", "/orders", json={"card": " n123456789 ",
                                         "items": [{"barcode": "1"}]}).get_json()
    assert body["card"] == "N123456789" and body["branch"] == "main" and body["ref"] is None


def test_card_number_is_not_logged(api, caplog):
    caplog.set_level(logging.DEBUG)
    assert api("POST", "/orders", json=new_order()).status_code == 201
    assert "N123456789" not in caplog.text and "created" in caplog.text


def test_duplicate_ref_is_409_naming_the_existing_order(api):
    first = api("POST", "/orders", json=new_order()).get_json()
    response = api("POST", "/orders", json=new_order(card="N987654321"))
    assert response.status_code == 409
    assert response.get_json()["detail"] == {"ref": "ils-1001", "id": first["id"]}


INVALID_ORDERS = [
    (new_order(card="12345"), "card"),
    (new_order(card="N123456789\x00; DROP"), "card"),
    (new_order(card=None), "card"),
    (new_order(items=[]), "items"),
    (new_order(items="03001234"), "items"),
    (new_order(items=[{"barcode": ""}]), "items[0].barcode"),
    (new_order(items=[{"barcode": 42}]), "items[0].barcode"),
    (new_order(items=[{"barcode": "1"}, {"barcode": "1"}]), "items[1].barcode"),
    (new_order(items=[{"barcode": "1", "colour": "red"}]), "items[0].colour"),
    (new_order(ref="x" * 65), "ref"),
    (new_order(shelf="A"), "shelf"),
    (new_order(items=[{"barcode": str(n)} for n in range(201)]), "items"),
]


def test_invalid_orders_are_400_listing_the_problem(api, session):
    for body, column in INVALID_ORDERS:
        response = api("POST", "/orders", json=body)
        assert response.status_code == 400, column
        problems = response.get_json()["detail"]
        assert column in [p["column"] for p in problems]
    assert session.query(Order).count() == 0


MALFORMED = [
    ("{not json", "application/json", 400),
    ("[1, 2]", "application/json", 400),
    ("", "application/json", 400),
    (json.dumps(new_order()), "text/plain", 415),
    ("card=N123456789", "application/x-www-form-urlencoded", 415),
    (json.dumps(new_order(pad="x" * (2 * 1024 * 1024))), "application/json", 413),
    ("[" * 100_000 + "]" * 100_000, "application/json", 400),
]


def test_malformed_bodies_get_clear_4xx(api, session):
    for data, ctype, status in MALFORMED:
        response = api("POST", "/orders", data=data, content_type=ctype)
        assert response.status_code == status, data[:40]
        assert response.get_json()["error"]
    assert session.query(Order).count() == 0


# --- reading and listing -----------------------------------------------------------------

def test_get_order_shows_slot_items_and_timestamps(api, session, station):
    order = make_order(session, card="N111111111", items=2, slot="B-03", station=station)
    body = api("GET", f"/orders/{order.id}").get_json()
    assert body["status"] == "ready" and body["slot"] == "B-03"
    assert body["deadline"] == order.deadline.isoformat()
    assert body["shelved_at"] and body["created_at"].endswith("+00:00")
    assert body["closed_at"] is None
    assert [i["lent"] for i in body["items"]] == [False, False]


def test_unknown_order_is_404_json(api):
    response = api("GET", "/orders/999999")
    assert response.status_code == 404 and response.get_json()["error"]


def test_list_filters_combine_and_page(api, session, station):
    ready = [make_order(session, card="N222222222", slot=s, station=station).id
             for s in ("A-01", "A-01", "A-03")]
    make_order(session, card="N222222222", status="cancelled")
    make_order(session, card="N333333333", slot="A-02", station=station)
    make_order(session, card="N333333333", ref="ref-7")
    body = api("GET", "/orders?status=ready&card=N222222222&limit=2").get_json()
    assert body["total"] == 3 and [o["id"] for o in body["orders"]] == ready[:2]
    second = api("GET", "/orders?status=ready&card=N222222222&limit=2&offset=1").get_json()
    assert [o["id"] for o in second["orders"]] == ready[1:]
    both = api("GET", "/orders?status=ready,cancelled&card=N222222222").get_json()
    assert {o["status"] for o in both["orders"]} == {"ready", "cancelled"}
    assert both["total"] == 4
    assert api("GET", "/orders?ref=ref-7").get_json()["total"] == 1
    assert api("GET", "/orders?card=n333333333&status=received").get_json()["total"] == 1
    assert api("GET", "/orders").get_json()["total"] == 6


def test_list_limit_is_capped(api):
    assert api("GET", "/orders?limit=100000").get_json()["limit"] == 500


def test_bad_list_parameters_are_400(api):
    for query in ["status=lost", "limit=0", "limit=ten", "offset=-1", "card=1234",
                  "colour=red", "limit=1e3", "status=ready,,lost"]:
        response = api("GET", f"/orders?{query}")
        assert response.status_code == 400 and response.get_json()["detail"], query


# --- shelving, collecting, cancelling ----------------------------------------------------

def test_shelve_an_unpacked_order_takes_it_as_packed(api, session):
    order_id = api("POST", "/orders", json=new_order()).get_json()["id"]
    response = api("POST", f"/orders/{order_id}/shelve", json={"slot": "b 2"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready" and body["slot"] == "B-02" and body["deadline"]
    assert body["packed_at"] and body["shelved_at"]
    actions = [e.action for e in session.query(AuditEvent).filter_by(order_id=order_id)]
    assert actions == ["created", "packing", "packed", "shelved"]


def test_shelve_on_unknown_slot_is_404(api, session):
    order = make_order(session)
    response = api("POST", f"/orders/{order.id}/shelve", json={"slot": "Z-99"})
    assert response.status_code == 404
    session.refresh(order)
    assert order.status == "received"


def test_shelve_on_full_slot_is_409_and_changes_nothing(api, session, station):
    for _ in range(2):  # A slots hold two bags in the test configuration
        make_order(session, slot="A-04", station=station)
    order = make_order(session)
    response = api("POST", f"/orders/{order.id}/shelve", json={"slot": "A-04"})
    assert response.status_code == 409 and response.get_json()["detail"]["slot"] == "A-04"
    session.expire_all()
    assert session.get(Order, order.id).status == "received"
    assert session.get(Order, order.id).packed_at is None


def test_shelve_needs_a_slot(api, session):
    order = make_order(session)
    for body in [{}, {"slot": 12}, {"slot": ""}, {"slot": "A" * 100}, {"slot": None}]:
        assert api("POST", f"/orders/{order.id}/shelve", json=body).status_code == 400, body
    response = api("POST", f"/orders/{order.id}/shelve", data="A-01", content_type="text/plain")
    assert response.status_code == 415


def test_collect_frees_the_slot(api, session, station):
    order = make_order(session, slot="A-05", station=station)
    body = api("POST", f"/orders/{order.id}/collect").get_json()
    assert body["status"] == "collected" and body["slot"] is None and body["closed_at"]
    session.expire_all()
    assert session.get(Order, order.id).place_id is None


def test_collect_of_an_order_not_on_the_shelf_is_409(api, session):
    order = make_order(session)
    response = api("POST", f"/orders/{order.id}/collect")
    assert response.status_code == 409
    assert response.get_json()["detail"] == {"status": "received", "wanted": "collected"}


def test_cancel_with_reason_is_audited(api, session):
    order = make_order(session, status="packing")
    response = api("POST", f"/orders/{order.id}/cancel", json={"reason": "patron asked"})
    assert response.get_json()["status"] == "cancelled"
    last = session.query(AuditEvent).filter_by(order_id=order.id).order_by(AuditEvent.id).all()[-1]
    assert (last.actor, last.to_status) == ("api", "cancelled")
    assert audit.parse(last.detail) == {"code": "reason", "reason": "patron asked"}
    assert audit.render(last.detail) == "Reason: patron asked"
    assert api("POST", f"/orders/{order.id}/cancel").status_code == 409


def test_bad_action_bodies(api, session):
    order = make_order(session)
    for data, ctype, status in [('{"reason": 5}', "application/json", 400),
                                ("[]", "application/json", 400),
                                ("stop", "text/plain", 415)]:
        response = api("POST", f"/orders/{order.id}/cancel", data=data, content_type=ctype)
        assert response.status_code == status, data
    session.refresh(order)
    assert order.status == "received"


def test_wrong_method_is_405_json(api):
    response = api("DELETE", "/orders/1")
    assert response.status_code == 405 and response.get_json()["error"]


def test_csrf_does_not_apply_to_the_api(make_settings, tokens_file):
    from kiosk import create_app
    from kiosk.schema import upgrade_database

    app = create_app(make_settings({"api": {"tokens_file": str(tokens_file)}}),
                     {"TESTING": True})  # CSRF on, as in production
    upgrade_database(app)
    response = app.test_client().post("/api/v1/orders", json=new_order(),
                                      headers={"Authorization": f"Bearer {TOKEN}"})
    with app.app_context():
        db.engine.dispose()
    assert response.status_code == 201


# --- OpenAPI -----------------------------------------------------------------------------

def test_openapi_document_is_valid_and_covers_every_route(client, app):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = rule.rule.removeprefix("/api/v1").replace("<int:order_id>", "{order_id}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method) in documented


def test_correct_branch_and_card_through_the_api(api, session, station):
    order = make_order(session, branch="sanvika", card="N000000001")
    response = api("POST", f"/orders/{order.id}/correct",
                   json={"branch": "main", "card": "n000000002"})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["branch"], response.get_json()["card"]) == ("main",
                                                                            "N000000002")
    last = session.query(AuditEvent).filter_by(order_id=order.id).order_by(AuditEvent.id).all()[-1]
    assert (last.actor, last.action) == ("api", "corrected")
    for body, status in [({"branch": "nowhere"}, 409), ({"card": "12345"}, 400), ({}, 400),
                         ({"branch": 5}, 400), ({"colour": "red"}, 400)]:
        assert api("POST", f"/orders/{order.id}/correct", json=body).status_code == status, body
    shelved = make_order(session, slot="A-01", station=station, status="collected")
    assert api("POST", f"/orders/{shelved.id}/correct",
               json={"card": "N000000003"}).status_code == 409


def test_a_cancelled_orders_ref_is_free_for_a_new_order(api, session):
    first = api("POST", "/orders", json=new_order()).get_json()
    assert api("POST", "/orders", json=new_order()).status_code == 409
    api("POST", f"/orders/{first['id']}/cancel")
    second = api("POST", "/orders", json=new_order())
    assert second.status_code == 201
    listed = api("GET", "/orders?ref=ils-1001").get_json()
    assert [(o["id"], o["ref"], o["status"]) for o in listed["orders"]] == [
        (first["id"], "ils-1001", "cancelled"), (second.get_json()["id"], "ils-1001", "received")]
