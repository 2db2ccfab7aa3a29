"""JSON import checks: every problem is reported, with where it is; nothing half-read.

Found by mutation testing (scripts/mutation.sh domain/import_files.py, docs/testing.md): with
the "An item must be an object" problem deleted, an order holding a non-object item was
accepted without that item and no test noticed.
"""

from __future__ import annotations

import json

from kiosk.domain.cards import CardReader
from kiosk.domain.import_files import Preview, check_order, parse_json

CARDS = CardReader([r"^N\d{9}$"])


def problems(pv_or_list) -> list[tuple]:
    found = pv_or_list.problems if isinstance(pv_or_list, Preview) else pv_or_list
    return [(p.problem, p.line, p.column, p.order, p.ref) for p in found]


def test_an_item_that_is_not_an_object_is_a_problem_and_the_order_is_not_taken():
    data = {"ref": " R1 ", "card": "N000000001",
            "items": ["0300000001", {"barcode": "0300000002"}, 5]}
    draft, found = check_order(data, CARDS, "main", order=3)
    assert draft is None
    assert problems(found) == [
        ("An item must be an object", None, "items[0]", 3, "R1"),
        ("An item must be an object", None, "items[2]", 3, "R1"),
    ]


def test_every_problem_of_an_order_is_reported_not_only_the_first():
    data = {"ref": "R2", "card": "12", "colour": "red",
            "items": [{"barcode": "0300000001", "shelf": 1}, {"barcode": "0300000001"}, {}]}
    draft, found = check_order(data, CARDS, "main", order=1)
    assert draft is None
    assert problems(found) == [
        ("Unknown key (known: %(known)s)", None, "colour", 1, "R2"),
        ("Not a card number the station accepts (see [cards] patterns)", None, "card", 1, "R2"),
        ("Unknown key (known: %(known)s)", None, "items[0].shelf", 1, "R2"),
        ("Barcode %(barcode)s appears twice in this order", None, "items[1].barcode", 1, "R2"),
        (found[4].problem, None, "items[2].barcode", 1, "R2"),
    ]
    assert found[0].params == {"known": "ref, card, branch, items, patron_name"}
    assert found[2].params == {"known": "barcode, title"}


def test_a_good_order_reads_whole_with_the_default_branch():
    data = {"ref": "R3", "card": "N000000001", "patron_name": "Kari",
            "items": [{"barcode": "0300000001", "title": "Bok"}, {"barcode": "0300000002"}]}
    draft, found = check_order(data, CARDS, "main", order=2)
    assert found == []
    assert draft.order == 2
    assert (draft.new.card, draft.new.branch, draft.new.ref, draft.new.patron_name) == (
        "N000000001", "main", "R3", "Kari")
    assert [(i.barcode, i.title) for i in draft.new.items] == [
        ("0300000001", "Bok"), ("0300000002", None)]


def test_an_order_that_is_not_an_object_or_has_no_items_is_a_problem():
    assert problems(check_order([1], CARDS, "main", order=4)[1]) == [
        ("An order must be an object", None, None, 4, None)]
    assert problems(check_order({"card": "N000000001", "items": []}, CARDS, "main", 5)[1]) == [
        ("Items must be a list of at least one item", None, "items", 5, None)]


def test_a_json_file_reports_each_bad_order_and_keeps_the_good_ones_apart():
    pv = Preview("json")
    text = json.dumps([{"card": "N000000001", "items": [{"barcode": "1"}]}, "x",
                       {"card": "N000000002", "items": ["y"]}])
    parse_json(text, CARDS, "main", pv)
    assert [d.order for d in pv.drafts] == [1]
    assert problems(pv) == [("An order must be an object", None, None, 2, None),
                            ("An item must be an object", None, "items[0]", 3, None)]


def test_a_json_file_that_is_no_list_or_no_json_is_one_clear_problem():
    pv = Preview("json")
    parse_json('{"card": "N000000001"}', CARDS, "main", pv)
    assert problems(pv) == [("The file must hold a list of orders ([{...}, ...])",
                             None, None, None, None)]
    pv = Preview("json")
    parse_json('[\n{"card": ]', CARDS, "main", pv)
    assert [(p.problem, p.line) for p in pv.problems] == [("Not valid JSON: %(error)s", 2)]
    assert pv.drafts == []
