"""Reading a whole order file as a table: every problem names its line, column and order ref
in words staff can act on, and rows group into the orders the file means.

Found by mutation testing (scripts/mutation.sh domain/import_reader.py, docs/testing.md).
"""

from __future__ import annotations

import pytest
from sheet_files import xlsx

from kiosk.domain import import_files
from kiosk.domain.cards import CardReader
from kiosk.domain.import_reader import read_orders

CARDS = CardReader([r"^N\d{9}$"])


def read(text: str | bytes, fmt: str = "csv"):
    data = text.encode() if isinstance(text, str) else text
    return read_orders(data, fmt, CARDS, "main")


def problems(text: str | bytes, fmt: str = "csv") -> list[str]:
    return [str(p) for p in read(text, fmt).problems]


EMPTY = ("Line 1: Empty file: expected a header row with a card number column and an item "
         "barcode column (such as Lånekort and Strekkode)")


@pytest.mark.parametrize("text,expected", [
    ("", [EMPTY]),
    ("\n ; \n\n", [EMPTY]),
    ("\n\ncard;item_barcode\n;\n", ["Line 3: No orders in the file, only a header"]),
    ("card;title\n", ["Line 1: No column for the item barcode (a header such as Strekkode or "
                      "Eksemplar)"]),
    ("card;colour\n", ["Line 1: No column for the item barcode (a header such as Strekkode or "
                       "Eksemplar)", "Line 1: Columns not recognised: colour"]),
    (f"kort;{'x' * 60}\n", [
        "Line 1: No column for the item barcode (a header such as Strekkode or Eksemplar)",
        f"Line 1: Columns not recognised: {'x' * 40}"]),
    ("kort;strekkode;lånekort\n", [
        "Line 1, column kort: Column appears more than once (kort, lånekort)"]),
    ('card,item_barcode,title\nN100000001,1,"' + "x" * 140_000 + '"\n', [
        "Not readable as CSV: field larger than field limit (131072)"]),
], ids=["empty", "blank", "only-header", "missing", "unknown", "long-name", "twice", "csv"])
def test_a_file_without_a_usable_header_or_rows_says_what_is_wrong(text, expected):
    pv = read(text)
    assert [str(p) for p in pv.problems] == expected
    assert pv.drafts == []


def test_a_row_with_too_few_or_too_many_fields_names_its_line_and_ref():
    text = ("card;item_barcode;order_ref;;\n"
            "N100000001;1;r-1\n"
            f"N100000001;2;{'r' * 70};x\n"
            "N100000002;3;r-3;;\n"
            "N100000002;4\n")
    pv = read(text)
    assert [str(p) for p in pv.problems] == [
        f"Line 3, order {'r' * 64}: 4 fields, the header has 3",
        "Line 5: 2 fields, the header has 3"]
    assert (pv.width, pv.delimiter, pv.encoding) == (3, ";", "UTF-8")
    assert [d.new.ref for d in pv.drafts] == ["r-1", "r-3"]


def test_a_ref_must_keep_its_card_and_branch_on_every_line():
    text = ("Lånekort;Strekkode;Referanse;Filial\n"
            "N100000001;1;r-1;main\n"
            "N100000002;2;r-1;main\n"
            "N100000001;3;r-1;bryn\n"
            "N100000001;4;r-1;main\n"
            "N100000001;4;r-1;main\n")
    pv = read(text)
    assert [str(p) for p in pv.problems] == [
        "Line 3, order r-1, column Referanse: Order ref r-1 has a different card on line 2",
        "Line 4, order r-1, column Filial: Order ref r-1 has a different branch on line 2",
        "Line 6, order r-1, column Strekkode: Barcode 4 is already in this order on line 5"]
    [draft] = pv.drafts
    assert [i.barcode for i in draft.new.items] == ["1", "4"]
    assert (draft.line, draft.lines, draft.branch_column) == (2, {"1": 2, "4": 5}, "Filial")


def test_a_ref_given_without_a_branch_column_keeps_the_default_branch():
    pv = read("card;item_barcode;order_ref\nN100000001;1;r-1\nN100000002;2;r-1\n")
    assert [str(p) for p in pv.problems] == [
        "Line 3, order r-1, column order_ref: Order ref r-1 has a different card on line 2"]
    pv = read("card;item_barcode;order_ref;branch\nN100000001;1;r-1;\nN100000001;2;r-1;bryn\n")
    assert [str(p) for p in pv.problems] == [
        "Line 3, order r-1, column branch: Order ref r-1 has a different branch on line 2"]


def test_a_bad_row_with_a_ref_is_not_also_a_different_card_problem():
    text = "card;item_barcode;order_ref\nN100000001;1;r-1\nN1;2;r-1\nN100000001;;r-1\n"
    assert problems(text) == [
        "Line 3, order r-1, column card: Not a card number this station accepts: N1; check "
        "the number, or ask IT which card numbers are set up",
        "Line 4, order r-1, column item_barcode: No value in item_barcode"]


def test_rows_without_a_ref_make_one_order_per_card_and_branch():
    text = ("card;item_barcode;title;branch\n"
            "N100000001;1;Sult;\n"
            "N100000001;2;;bryn\n"
            "N100000001;3;Grøde;main\n"
            "N100000002;4;;bryn\n")
    pv = read(text)
    assert pv.problems == []
    got = [(d.new.card, d.new.branch, d.new.ref, d.line, d.branch_column,
            [(i.barcode, i.title) for i in d.new.items]) for d in pv.drafts]
    assert got == [("N100000001", "main", None, 2, "branch", [("1", "Sult"), ("3", "Grøde")]),
                   ("N100000001", "bryn", None, 3, "branch", [("2", None)]),
                   ("N100000002", "bryn", None, 5, "branch", [("4", None)])]
    assert pv.labels == {"card": "card", "item_barcode": "item_barcode", "title": "title",
                         "branch": "branch"}


def test_an_order_of_200_rows_is_taken_and_the_201st_row_is_a_problem():
    rows = "".join(f"N100000001;{n}\n" for n in range(201))
    pv = read("card;barcode\n" + rows)
    assert [str(p) for p in pv.problems] == [
        "Line 202, column barcode: More than 200 items in one order"]
    assert len(pv.drafts[0].new.items) == 200


def test_a_file_of_exactly_the_size_limit_is_read_one_byte_more_is_not(monkeypatch):
    text = b"card;item_barcode\nN100000001;1\n"
    monkeypatch.setattr(import_files, "MAX_BYTES", len(text))
    assert read(text).ok
    monkeypatch.setattr(import_files, "MAX_BYTES", len(text) - 1)
    assert problems(text) == ["File larger than 0 MiB; split it into several imports"]
    monkeypatch.setattr(import_files, "MAX_BYTES", 3 * 1024 * 1024)
    assert problems(b"x" * (3 * 1024 * 1024 + 1)) == [
        "File larger than 3 MiB; split it into several imports"]


def test_a_file_that_is_not_text_is_one_problem_on_its_line():
    pv = read(b"card;item_barcode\nN100000001;1\x00\n")
    assert [str(p) for p in pv.problems] == [
        "Line 2: The file contains NUL bytes: it is not a CSV text file (a spreadsheet or "
        "UTF-16 text?)"]
    assert pv.drafts == [] and pv.encoding is None
    assert problems(b"\xd0\xcf\x11\xe0", "xls") == [
        "Old Excel files (.xls) are not read; save it as .xlsx or CSV"]
    assert problems(b"garbage", "xlsx") == ["Not a readable Excel (.xlsx) file"]


def test_json_reads_as_json_with_its_encoding():
    pv = read('[{"card": "N100000001", "items": [{"barcode": "1"}]}]'.encode("cp1252"), "json")
    assert pv.ok and pv.encoding == "UTF-8" and pv.delimiter is None
    assert pv.drafts[0].new.branch == "main"  # the station's branch when the order names none
    assert problems(b"[1]", "json") == ["Order 1: An order must be an object"]


def test_a_spreadsheet_with_empty_rows_and_columns_around_reads_its_orders():
    data = xlsx([[None, None, None], ["Kort", "Strekkode", None], ["N100000001", 1, None],
                 [None, None, None], ["N100000001", 2, None]])
    pv = read(data, "xlsx")
    assert pv.problems == [] and pv.width == 2 and pv.encoding is None
    assert [i.barcode for i in pv.drafts[0].new.items] == ["1", "2"]
    assert pv.drafts[0].line == 3


def test_too_long_titles_refs_and_branches_are_named_by_the_file_columns():
    ref = "r" * 65
    text = ("Lånekort;Strekkode;Tittel;Referanse;Filial\n"
            f"N100000001;1;{'t' * 501};{ref};{'b' * 65}\n"
            "N100000002;2;;;\n")
    pv = read(text)
    assert [str(p) for p in pv.problems] == [
        f"Line 2, order {ref[:64]}, column Tittel: The value in Tittel is longer than 500 "
        "characters",
        f"Line 2, order {ref[:64]}, column Referanse: The value in Referanse is longer than 64 "
        "characters",
        f"Line 2, order {ref[:64]}, column Filial: The value in Filial is longer than 64 "
        "characters"]
    assert [(d.new.card, d.new.branch) for d in pv.drafts] == [("N100000002", "main")]
