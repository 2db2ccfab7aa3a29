"""JSON import checks: every problem is reported, with where it is; nothing half-read.

Found by mutation testing (scripts/mutation.sh domain/import_files.py, docs/testing.md): with
the "An item must be an object" problem deleted, an order holding a non-object item was
accepted without that item and no test noticed.
"""

from __future__ import annotations

import json

from kiosk.domain.cards import CardReader
from kiosk.domain.import_files import NOT_A_CARD, Preview, check_order, parse_json

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
        (NOT_A_CARD, None, "card", 1, "R2"),
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


# --- Found by the mutation run of this round (docs/testing.md, kiosk/domain/import_files.py) ---


def test_a_problem_reads_as_where_then_what_and_leaves_out_what_it_does_not_know():
    from kiosk.domain.import_files import Problem

    assert str(Problem("Bad", line=3, ref="R1", order=2, column="card")) == (
        "Line 3, order R1, column card: Bad")
    assert str(Problem("Bad", order=2, column="items")) == "Order 2, column items: Bad"
    assert str(Problem("Bad", line=4)) == "Line 4: Bad"
    assert str(Problem("Bad", column="card")) == "Column card: Bad"
    assert str(Problem("Nothing known")) == "Nothing known"
    assert Problem("More than %(n)d items", column="items", order=1,
                   params={"n": 200}).as_dict() == {
        "line": None, "order": 1, "ref": None, "column": "items",
        "problem": "More than 200 items"}


def test_a_value_that_is_not_text_or_too_long_is_a_problem_that_says_so():
    data = {"ref": 5, "card": "N000000001", "branch": 7, "patron_name": ["Kari"],
            "items": [{"barcode": "1", "title": 9}, {"barcode": "2" * 65},
                      {"barcode": "3", "title": "t" * 501}]}
    draft, found = check_order(data, CARDS, "main", order=4)
    assert draft is None
    assert [str(p) for p in found] == [
        "Order 4, column ref: The value in ref must be text, got int",
        "Order 4, column branch: The value in branch must be text, got int",
        "Order 4, column patron_name: The value in patron_name must be text, got list",
        "Order 4, column items[0].title: The value in title must be text, got int",
        "Order 4, column items[1].barcode: The value in barcode is longer than 64 characters",
        "Order 4, column items[2].title: The value in title is longer than 500 characters",
    ]


def test_values_exactly_at_their_limits_are_taken():
    data = {"ref": "r" * 64, "card": "N000000001", "branch": "b" * 64, "patron_name": "p" * 200,
            "items": [{"barcode": "1" * 64, "title": "t" * 500}]}
    draft, found = check_order(data, CARDS, "main", order=1)
    assert found == []
    assert (draft.new.ref, draft.new.branch, draft.new.patron_name) == ("r" * 64, "b" * 64,
                                                                       "p" * 200)
    assert [(i.barcode, i.title) for i in draft.new.items] == [("1" * 64, "t" * 500)]


def test_an_order_of_200_items_is_taken_and_one_of_201_is_refused_whole():
    items = [{"barcode": str(n)} for n in range(200)]
    draft, found = check_order({"card": "N000000001", "items": items}, CARDS, "main", 1)
    assert found == [] and len(draft.new.items) == 200
    draft, found = check_order({"card": "N000000001", "items": [*items, {"barcode": "x"}]},
                               CARDS, "main", 2)
    assert draft is None
    assert [str(p) for p in found] == ["Order 2, column items: More than 200 items"]
    assert found[0].params == {"n": 200}


def test_an_empty_or_missing_card_is_a_problem_never_an_order_without_a_card():
    for card in ("", "  ", None):
        draft, found = check_order({"card": card, "items": [{"barcode": "1"}]}, CARDS, "main",
                                   order=1)
        assert draft is None
        assert [str(p) for p in found] == ["Order 1, column card: No value in card"], card


def test_problem_texts_name_the_value_and_the_limits():
    data = {"ref": "R9", "card": "N000000001", "k" * 50: 1,
            "items": [{"barcode": "7"}, {"barcode": "7", "s" * 50: 1}, {"barcode": ""}]}
    draft, found = check_order(data, CARDS, "main", order=1)
    assert draft is None
    assert [str(p) for p in found] == [
        f"Order R9, column {'k' * 40}: Unknown key (known: ref, card, branch, items, "
        "patron_name)",
        f"Order R9, column items[1].{'s' * 40}: Unknown key (known: barcode, title)",
        "Order R9, column items[1].barcode: Barcode 7 appears twice in this order",
        "Order R9, column items[2].barcode: No value in barcode",
    ]


def test_json_that_is_broken_or_nested_too_deeply_says_so():
    pv = Preview("json")
    parse_json('[\n{"card": ]', CARDS, "main", pv)
    assert [str(p) for p in pv.problems] == ["Line 2: Not valid JSON: Expecting value"]
    pv = Preview("json")
    parse_json("[" * 50_000 + "]" * 50_000, CARDS, "main", pv)
    assert [str(p) for p in pv.problems] == ["Not valid JSON: nested too deeply"]


def test_an_unknown_branch_names_where_it_is_and_the_branches_there_are():
    from kiosk.domain.import_files import Draft, check_branches
    from kiosk.domain.orders import NewItem, NewOrder

    def draft(branch, **where):
        return Draft(NewOrder(card="N000000001", items=(NewItem("1", None),), branch=branch,
                              ref=where.pop("ref", None)), **where)

    drafts = [draft("main", line=2), draft("sanvika", line=3, ref="r-3", branch_column="Filial"),
              draft("bryn", order=4)]
    found = check_branches(drafts, {"main", "bekkestua"})
    assert [str(p) for p in found] == [
        "Line 3, order r-3, column Filial: Unknown branch sanvika (the library's branches: "
        "bekkestua, main)",
        "Order 4, column branch: Unknown branch bryn (the library's branches: bekkestua, main)",
    ]
    assert [(p.line, p.order, p.ref) for p in found] == [(3, None, "r-3"), (None, 4, None)]
    assert check_branches(drafts[:1], {"main"}) == []


def test_an_upload_is_read_only_to_one_byte_past_the_limit(tmp_path, monkeypatch):
    import io

    from kiosk.domain import import_files

    monkeypatch.setattr(import_files, "MAX_BYTES", 100)
    path = tmp_path / "orders.csv"
    path.write_bytes(b"x" * 1000)
    assert import_files.read_source(path) == (b"x" * 101, "orders.csv")
    assert import_files.read_source(str(path)) == (b"x" * 101, "orders.csv")
    with path.open("rb") as fh:
        assert import_files.read_source(fh) == (b"x" * 101, str(path))
    assert import_files.read_source(io.BytesIO(b"y" * 1000)) == (b"y" * 101, "")
    assert import_files.read_source(b"z" * 1000) == (b"z" * 1000, "")
    assert import_files.read_source(bytearray(b"ab")) == (b"ab", "")


def test_an_empty_card_in_a_file_names_the_column_as_the_file_calls_it():
    from kiosk.domain.import_reader import read_orders

    pv = read_orders("Lånekort;Strekkode\n ;1\n".encode(), "csv", CARDS, "main")
    assert [str(p) for p in pv.problems] == ["Line 2, column Lånekort: No value in Lånekort"]
