"""Only characters that can travel (issue 23): identifiers are printable ASCII without `|`,
free text holds no control, invisible or bidi character, at every door."""

from __future__ import annotations

import io
import json

import pytest
from sheet_files import xlsx
from staff_helpers import login

from kiosk.domain import identifiers, importer
from kiosk.domain.cards import CardReader
from kiosk.extensions import db
from kiosk.models import Order

TOKEN = "chars-token-0123456789abcdefghijk"
API = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
CARD = "N000000123"


@pytest.fixture
def config_overrides(tmp_path):
    tokens = tmp_path / "api-tokens"
    tokens.write_text(TOKEN + "\n")
    return {"api": {"tokens_file": str(tokens)}}


@pytest.mark.parametrize("value", ["ITEM1|AOevil|AA999", "A\rB", "A\nB", "A\0B", "BØK-1",
                                   "A\u200bB", "\ud800"])
def test_what_an_identifier_may_not_hold(value):
    assert not identifiers.is_identifier(value)


def test_what_an_identifier_may_hold():
    assert identifiers.is_identifier("0300000123-ab ~!#$%&'()*+,-./:;<=>?@[]^_`{}")


@pytest.mark.parametrize("text", ["a\0b", "ring\x07", "\x1b[31m", "evil\u202etxt.exe",
                                  "\u2066iso\u2069", "zero\u200bwidth", "\ud800", "a\u2028b"])
def test_free_text_refuses_hidden_characters(text):
    assert identifiers.bad_character(text) is not None


@pytest.mark.parametrize("text", ["Kari Nordmann", "Ærlig talt, Åse", "كتاب", "日本語の本",
                                  "Tom & Jerry (2. utg.)", "Sult,\nbind 1", "a\tb\r\n"])
def test_free_text_in_any_script_is_fine(text):
    assert identifiers.bad_character(text) is None


def test_card_patterns_match_ascii_digits_only():
    cards = CardReader([r"^N\d{9}$"])
    assert cards.card("N123456789") == "N123456789"
    assert cards.card("N١٢٣٤٥٦٧٨٩") is None  # Arabic-Indic digits
    assert cards.card("N１２３４５６７８９") is None  # full-width digits
    assert CardReader([r"^.+$"]).card("N1|AOevil") is None  # a pattern cannot let `|` in


def test_a_scan_of_arabic_indic_digits_is_not_a_card(client):
    body = client.post("/kiosk/scan", json={"code": "N١٢٣٤٥٦٧٨٩"}).get_json()
    assert body["outcome"] == "not_recognised"


def _post(client, path: str, raw: str):
    return client.post(path, data=raw.encode(), headers=API)


@pytest.mark.parametrize("item", [
    {"barcode": "ITEM1|AOevil|AA999"}, {"barcode": "ITEM1\r\nAO"}, {"barcode": "IT\u0000EM"},
    {"barcode": "X1", "title": "evil\u202etxt"}, {"barcode": "X1", "title": "ding\u0007"},
    {"barcode": "X1", "title": "zero\u200bwidth"}])
def test_the_api_refuses_an_order_whose_values_cannot_travel(client, app, item):
    r = client.post("/api/v1/orders", json={"card": CARD, "items": [item]}, headers=API)
    assert r.status_code == 400, r.get_json()
    problem = r.get_json()["detail"][0]
    assert problem["column"].startswith("items[0].")
    with app.app_context():
        assert db.session.query(Order).count() == 0


@pytest.mark.parametrize("where", ["card", "ref", "patron_name", "title", "branch"])
def test_a_lone_surrogate_in_json_is_a_400_not_a_500(client, where):
    order = {"card": CARD, "ref": "R1", "items": [{"barcode": "X1", "title": "t"}]}
    raw = json.dumps(order)
    if where == "title":
        raw = raw.replace('"t"', '"\\ud800"')
    elif where in order:
        raw = raw.replace(json.dumps(order[where]), '"\\ud800"')
    else:
        raw = raw[:-1] + f', "{where}": "\\ud800"}}'
    r = _post(client, "/api/v1/orders", raw)
    assert r.status_code == 400, r.get_data(as_text=True)


def test_correct_and_reasons_refuse_a_lone_surrogate(client, app):
    r = client.post("/api/v1/orders", json={"card": CARD, "items": [{"barcode": "X1"}]},
                    headers=API)
    order_id = r.get_json()["id"]
    r = _post(client, f"/api/v1/orders/{order_id}/correct", '{"branch": "\\ud800"}')
    assert r.status_code == 400, r.get_data(as_text=True)
    r = _post(client, f"/api/v1/orders/{order_id}/cancel", '{"reason": "ok\\u202e"}')
    assert r.status_code == 400, r.get_data(as_text=True)
    assert client.get(f"/api/v1/orders/{order_id}", headers=API).get_json()["status"] \
        == "received"


def test_csv_and_json_imports_name_the_row(app, session, station):
    csv = "card,item_barcode,title\nN000000001,OK-1,Fin bok\nN000000002,BAD|1,Bok\n" \
          "N000000003,OK-3,Skjult\u202etekst\n"
    pv = importer.preview(session, csv.encode(), station.cards, "main")
    found = {(p.line, p.column) for p in pv.problems}
    assert {(3, "item_barcode"), (4, "title")} <= found, [str(p) for p in pv.problems]
    raw = b'[{"card": "N000000001", "items": [{"barcode": "X\\u0000Y"}]}]'
    pv = importer.preview(session, raw, station.cards, "main", fmt="json")
    assert [(p.order, p.column) for p in pv.problems] == [(1, "items[0].barcode")]


def test_an_xlsx_title_with_a_bidi_override_is_a_problem(app, session, station):
    data = xlsx([["card", "item_barcode", "title"], ["N000000001", "OK-1", "evil\u202etxt"]])
    pv = importer.preview(session, data, station.cards, "main", fmt="xlsx")
    assert [(p.line, p.column) for p in pv.problems] == [(2, "title")]
    assert not pv.drafts


def test_the_staff_json_preview_of_a_lone_surrogate_is_a_problem_not_a_500(client, app):
    login(client, app)
    raw = b'[{"card": "N000000001", "items": [{"barcode": "X1", "title": "\\ud800"}]}]'
    r = client.post("/staff/import", data={"file": (io.BytesIO(raw), "orders.json")},
                    content_type="multipart/form-data")
    assert r.status_code in (200, 400, 422), r.status_code
    assert "U+D800" in r.get_data(as_text=True)


def test_the_staff_new_order_form_refuses_hidden_characters(client, app):
    login(client, app)
    r = client.post("/staff/orders/new", data={"card": CARD, "items": "X1;evil\u202etitle"})
    assert r.status_code == 422
    r = client.post("/staff/orders/new", data={"card": CARD, "items": "X|1"})
    assert r.status_code == 422
    with app.app_context():
        assert db.session.query(Order).count() == 0
