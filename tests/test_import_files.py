"""The files a library really has: Excel and LibreOffice CSV, .xlsx, .ods, Norwegian headers."""

from __future__ import annotations

import io
import zipfile

import pytest
from sheet_files import ods, xlsx

from kiosk.domain import import_files, import_tables, importer
from kiosk.domain.cards import CardReader

CARDS = CardReader([r"^N\d{9}$"])

# The same two orders as each program writes them; titles with æøå and the other separator.
ROWS = [["Lånekort", "Strekkode", "Tittel", "Referanse", "Filial"],
        ["N100000001", "0300001", "Kjærlighet på pinne; roman", "r-1", "main"],
        ["N100000001", "0300002", "Blåbærsyltetøy, 2. utg.", "r-1", "main"],
        ["N100000002", "0300003", "Ærlig talt", "r-2", "main"]]


def csv_text(rows: list[list[str]], sep: str) -> str:
    def cell(v: str) -> str:
        return f'"{v}"' if (sep in v or '"' in v) else v
    return "\r\n".join(sep.join(cell(v) for v in row) for row in rows) + "\r\n"


def check(session, data: bytes, name: str = "", branches=None) -> import_files.Preview:
    return importer.preview(session, data, CARDS, "main",
                            import_files.detect_format(data, name), branches)


def assert_the_two_orders(pv: import_files.Preview) -> None:
    assert pv.problems == [] and pv.ok
    orders = {d.new.ref: d.new for d in pv.drafts}
    assert [i.title for i in orders["r-1"].items] == ["Kjærlighet på pinne; roman",
                                                      "Blåbærsyltetøy, 2. utg."]
    assert [i.barcode for i in orders["r-1"].items] == ["0300001", "0300002"]
    assert orders["r-2"].card == "N100000002" and orders["r-2"].items[0].title == "Ærlig talt"


@pytest.mark.parametrize("program,data,encoding,sep", [
    ("Excel: CSV (semikolonseparert)", csv_text(ROWS, ";").encode("cp1252"), "Windows-1252", ";"),
    ("Excel: CSV UTF-8", b"\xef\xbb\xbf" + csv_text(ROWS, ";").encode(), "UTF-8", ";"),
    ("Excel: CSV UTF-8, comma locale", b"\xef\xbb\xbf" + csv_text(ROWS, ",").encode(),
     "UTF-8", ","),
    ("LibreOffice, comma", csv_text(ROWS, ",").replace("\r\n", "\n").encode(), "UTF-8", ","),
    ("LibreOffice, semicolon", csv_text(ROWS, ";").replace("\r\n", "\n").encode(), "UTF-8", ";"),
    ("LibreOffice, Windows-1252", csv_text(ROWS, ",").encode("cp1252"), "Windows-1252", ","),
    ("Excel with sep= line", b"sep=;\r\n" + csv_text(ROWS, ";").encode("cp1252"),
     "Windows-1252", ";"),
])
def test_csv_as_spreadsheets_write_it(plain, program, data, encoding, sep):
    # The name says nothing: a .txt or .csv is read by its content, never its extension.
    for name in ("orders.csv", "orders.txt", ""):
        pv = check(plain, data, name)
        assert (pv.format, pv.encoding, pv.delimiter) == ("csv", encoding, sep), program
        assert_the_two_orders(pv)


@pytest.mark.parametrize("data,words", [
    ("card,item_barcode\nN100000001,1\n".encode("utf-16"), "UTF-16"),
    ("card,item_barcode\nN100000001,1\n".encode("utf-16-le"), "NUL"),
    (b"card,item_barcode\nN100000001,1\x00\x00\n", "NUL"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL"),
    (b"card,item_barcode\nN100000001,1\n\x1b[31m\x8f\x81\n", "Neither UTF-8 nor Windows-1252"),
    (b"card,item_barcode\nN100000001,\x07\x02\x03\n", "control characters"),
    ("card,item_barcode,title\nN100000001,1,Grøde\n".encode() + "N100000002,2,Grøde\n"
     .encode("cp1252"), "mixes UTF-8 (line 2)"),
])
def test_files_that_are_not_text_are_refused(plain, data, words):
    pv = check(plain, data, "orders.csv")
    [problem] = pv.problems
    assert words in problem.text and not pv.ok
    assert problem.line in (1, 2, 3)


def test_header_names_in_norwegian_any_case_and_spacing(plain):
    data = (" LÅNEKORT ;Strekkode eksemplar;tittel;ORDRE;  Avdeling\n"
            "N100000001;0300001;Sult;o-1;main\n").encode()
    pv = check(plain, data)
    assert pv.ok and pv.drafts[0].new.ref == "o-1"
    assert pv.labels == {"card": "LÅNEKORT", "item_barcode": "Strekkode eksemplar",
                         "title": "tittel", "order_ref": "ORDRE", "branch": "Avdeling"}
    for header in ("Kortnummer;strekkode_eksemplar", "kort;Eksemplar", "Card;Barcode",
                   "lanekort;ITEM-BARCODE"):
        assert check(plain, f"{header}\nN100000001;0300001\n".encode()).ok, header


def test_two_names_for_one_column_are_a_problem_and_unknown_names_a_notice(plain):
    pv = check(plain, b"kort;lanekort;strekkode;farge\nN100000001;N100000001;1;red\n")
    assert {(p.line, p.column) for p in pv.problems} == {(1, "kort")}
    assert "kort, lanekort" in pv.problems[0].text
    assert [str(n) for n in pv.notices] == ["Columns ignored: farge"]


def test_every_problem_names_line_column_and_order_ref(plain):
    data = ("lånekort;strekkode;referanse\n"
            "N100000001;0300001;r-7\n"
            "12345;0300002;r-8\n"
            "N100000003;;r-9\n"
            "N100000004;0300004;r-10;extra\n").encode("cp1252")
    pv = check(plain, data)
    found = {(p.line, p.column, p.ref) for p in pv.problems}
    assert found == {(3, "lånekort", "r-8"), (4, "strekkode", "r-9"), (5, None, "r-10")}
    assert str(pv.problems[0]).startswith(
        "Line 3, order r-8, column lånekort: Not a card number this station accepts: 12345")


def test_empty_columns_at_the_end_are_fine(plain):
    data = b"card;item_barcode;;\nN100000001;0300001;;\n"
    assert check(plain, data).ok


XLSX_ROWS = [["Lånekort", "Strekkode", "Tittel", "Referanse"],
             ["N100000001", "0300001", "Kjærlighet på pinne", "x-1"],
             [None, None, None, None],
             ["N100000001", 300002, "Blåbær", "x-1"],
             ["N100000002", 300003.0, None, None]]


@pytest.mark.parametrize("kind,make,name", [("xlsx", xlsx, "orders.xlsx"),
                                            ("ods", ods, "orders.ods"),
                                            ("xlsx", xlsx, "no-extension"),
                                            ("ods", ods, "orders.bin")])
def test_spreadsheets_first_sheet_with_header_row(plain, kind, make, name):
    data = make(XLSX_ROWS)
    pv = check(plain, data, name)
    assert pv.format == kind and pv.ok, [str(p) for p in pv.problems]
    orders = {d.new.ref or d.new.card: d.new for d in pv.drafts}
    assert [(i.barcode, i.title) for i in orders["x-1"].items] == [
        ("0300001", "Kjærlighet på pinne"), ("300002", "Blåbær")]
    assert orders["N100000002"].items[0].barcode == "300003"


def test_only_the_first_sheet_is_read_and_rows_are_numbered_as_the_sheet(plain):
    data = xlsx([["kort", "strekkode", "ordre"], ["N100000001", "1", "s-1"],
                 ["N1", "2", "s-2"]], other_sheets={"Notater": [["not", "orders"]]})
    [problem] = check(plain, data, "orders.xlsx").problems
    assert (problem.line, problem.column, problem.ref) == (3, "kort", "s-2")


@pytest.mark.parametrize("data,name,words", [
    (b"this is no workbook", "orders.xlsx", "Not a readable Excel (.xlsx) file"),
    (b"PK\x03\x04 broken zip", "orders.xlsx", "Not a readable Excel (.xlsx) file"),
    (b"garbage", "orders.ods", "Not a readable OpenDocument (.ods) file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "orders.xls", "Old Excel files"),
])
def test_garbage_spreadsheets_are_a_clear_problem(plain, data, name, words):
    [problem] = check(plain, data, name).problems
    assert words in problem.text


def test_a_zip_that_is_no_workbook_is_a_clear_problem(plain):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", "hello")
    [problem] = check(plain, out.getvalue(), "orders.xlsx").problems
    assert "Not a readable Excel (.xlsx) file" in problem.text


def test_size_limits_hold_for_spreadsheets(plain, monkeypatch):
    data = xlsx(XLSX_ROWS)
    monkeypatch.setattr(import_tables, "MAX_UNPACKED", 1000)
    [problem] = check(plain, data).problems
    assert "unpacks to more than" in problem.text
    monkeypatch.setattr(import_files, "MAX_BYTES", 1000)
    [problem] = check(plain, data).problems
    assert "larger than" in problem.text


def test_the_example_file_in_the_docs_imports(plain):
    from pathlib import Path

    example = Path(__file__).parent.parent / "docs" / "examples" / "orders-example.csv"
    pv = check(plain, example.read_bytes(), example.name, branches={"main", "bekkestua"})
    assert pv.ok and len(pv.drafts) == 3, [str(p) for p in pv.problems]
