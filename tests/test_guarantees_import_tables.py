"""Reading an order file as a table: the format, encoding and separator are found from the
content; a file that is no table is refused with a message that says what to do and where.

Found by mutation testing (scripts/mutation.sh domain/import_tables.py, docs/testing.md).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

import pytest
from sheet_files import ods, xlsx

from kiosk.domain import import_tables
from kiosk.domain.import_tables import Unreadable, cell_text, csv_rows, decode, detect_format


def unreadable(call, *args) -> tuple[str, int | None]:
    with pytest.raises(Unreadable) as info:
        result = call(*args)
        list(result) if not isinstance(result, tuple) else None
    exc = info.value
    assert str(exc) == exc.template % exc.params if exc.params else exc.template
    return str(exc), exc.line


def a_zip(**members: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_the_format_is_found_from_the_content_first_then_the_name():
    assert detect_format(ods([["card"]]), "orders.xlsx") == "ods"
    assert detect_format(xlsx([["card"]]), "orders.ods") == "xlsx"
    assert detect_format(a_zip(mimetype=b"  application/vnd.oasis.opendocument.spreadsheet\n"),
                         "") == "ods"
    assert detect_format(a_zip(mimetype=b"application/vnd.oasis.opendocument.text")) == "xlsx"
    assert detect_format(a_zip(other=b"x")) == "xlsx"
    assert detect_format(b"PK\x03\x04 not really a zip", "a.ods") == "xlsx"
    assert detect_format(import_tables.OLE_MAGIC + b"\x00" * 8, "orders.csv") == "xls"
    for name, fmt in [("a.CSV", "csv"), ("a.txt", "csv"), ("a.tsv", "csv"), ("a.JSON", "json"),
                      ("a.ods", "ods"), ("a.xls", "xls"), ("a.xlsx", "xlsx"), ("a.XLSM", "xlsx")]:
        assert detect_format(b"[1]", name) == fmt, name
    assert detect_format(b"\xef\xbb\xbf \t\r\n[{}]") == "json"
    assert detect_format(b"{}", "orders") == "json"
    assert detect_format(b"card,[x]") == "csv"
    assert detect_format(b"") == "csv"


def test_a_zip_whose_type_cannot_be_read_is_taken_for_xlsx_not_a_crash():
    big = a_zip(mimetype=b"application/vnd.oasis.opendocument.spreadsheet" + b" " * 200)
    assert detect_format(big) == "ods"  # only the start of the member counts
    broken = bytearray(ods([["card"]]))
    at = broken.find(b"application/vnd.oasis")
    broken[at:at + 4] = b"XXXX"  # the stored member's CRC no longer matches
    assert detect_format(bytes(broken)) == "xlsx"


@pytest.mark.parametrize("data,text,line", [
    (b"\xff\xfe" + "card\n".encode("utf-16-le"),
     "The file is UTF-16 text; save it as CSV UTF-8 or as CSV (semicolon separated)", 1),
    (b"\xfe\xff\x00c", "The file is UTF-16 text; save it as CSV UTF-8 or as CSV "
     "(semicolon separated)", 1),
    (b"card\nN1\nN2\x00\n", "The file contains NUL bytes: it is not a CSV text file "
     "(a spreadsheet or UTF-16 text?)", 3),
    (b"card\ntitle\n\nx\x81", "Neither UTF-8 nor Windows-1252 text (byte 0x81); "
     "save the file as CSV UTF-8", 4),  # 0x81: the one byte Windows-1252 leaves undefined
    ("card\nGrøde\n\nGr".encode() + b"\xf8de", "The file mixes UTF-8 (line 2) and another "
     "encoding; save it again as CSV UTF-8", 4),
    (b"card\nx\ny\x1b[0m\n", "The file contains control characters: it is not a CSV text "
     "file", 3),
], ids=["utf-16-le", "utf-16-be", "nul", "undefined-byte", "mixed", "control"])
def test_a_file_that_is_not_text_says_why_and_on_which_line(data, text, line):
    assert unreadable(decode, data) == (text, line)


def test_text_is_read_as_utf8_without_its_bom_else_as_windows_1252():
    assert decode("\ufeffcard;tittel\nN1;Grøde\n".encode()) == ("card;tittel\nN1;Grøde\n",
                                                                 "UTF-8")
    assert decode("card\tx\r\nGrøde €\n".encode("cp1252")) == ("card\tx\r\nGrøde €\n",
                                                                "Windows-1252")


@pytest.mark.parametrize("text,sep", [
    ("card;item_barcode;title\n", ";"),
    ("card\titem_barcode\n", "\t"),
    ('"a;b;c",card,item_barcode\n', ","),
    ('"a,b,c";card;item_barcode\n', ";"),
    ("\n  \ncard;item_barcode,x;y\n", ";"),
    ("card\n1,2,3\n", ","),
    ("a,b;c\t\n", ","),
    ("", ","),
])
def test_the_separator_is_the_one_the_header_uses_most_outside_quotes(text, sep):
    assert import_tables.sniff_delimiter(text) == sep


def test_an_excel_sep_line_names_the_separator_and_is_no_row():
    rows, sep = csv_rows('\ufeffsep=|\r\ncard|title\r\nN1|"a\r\nb"\r\nN2|c\r\n')
    assert sep == "|"
    assert list(rows) == [(2, ["card", "title"]), (4, ["N1", "a\r\nb"]), (5, ["N2", "c"])]
    rows, sep = csv_rows("card;title\nN1;x\n")
    assert sep == ";" and list(rows) == [(1, ["card", "title"]), (2, ["N1", "x"])]


def test_spreadsheet_rows_are_numbered_as_the_sheet_shows_them():
    for make, fmt in ((xlsx, "xlsx"), (ods, "ods")):
        rows = list(import_tables.sheet_rows(make([["card", "n"], [None, None],
                                                   ["N1", 300001]]), fmt))
        assert rows == [(1, ["card", "n"]), (2, ["", ""]), (3, ["N1", "300001"])], fmt


def test_a_spreadsheet_that_cannot_be_read_says_which_kind_it_is_not():
    assert unreadable(import_tables.sheet_rows, b"PK\x03\x04 broken", "ods") == (
        "Not a readable OpenDocument (.ods) file", None)
    assert unreadable(import_tables.sheet_rows, a_zip(x=b"y"), "xlsx") == (
        "Not a readable Excel (.xlsx) file", None)
    assert unreadable(import_tables.sheet_rows, b"x", "xls") == (
        "Old Excel files (.xls) are not read; save it as .xlsx or CSV", None)


def test_a_spreadsheet_may_unpack_to_the_limit_but_not_past_it(monkeypatch):
    data = xlsx([["card"], ["N1"]])
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
    monkeypatch.setattr(import_tables, "MAX_UNPACKED", unpacked)
    assert list(import_tables.sheet_rows(data, "xlsx")) == [(1, ["card"]), (2, ["N1"])]
    monkeypatch.setattr(import_tables, "MAX_UNPACKED", unpacked - 1)
    assert unreadable(import_tables.sheet_rows, data, "xlsx") == (
        "The spreadsheet unpacks to more than 0 MiB; split it", None)
    # A zip bomb in small: 3 MiB of zeros in a few kB; the limit is named in whole MiB.
    monkeypatch.setattr(import_tables, "MAX_UNPACKED", 3 * 1024 * 1024)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (3 * 1024 * 1024 + 1))
    assert len(bomb.getvalue()) < 100_000
    assert unreadable(import_tables.sheet_rows, bomb.getvalue(), "ods") == (
        "The spreadsheet unpacks to more than 3 MiB; split it", None)


@pytest.mark.parametrize("value,text", [
    (None, ""), (True, "TRUE"), (False, "FALSE"), (300001.0, "300001"), (-2.0, "-2"),
    (1.5, "1.5"), (1e15, "1000000000000000.0"), (999999999999999.0, "999999999999999"),
    (7, "7"), ("N1", "N1"), (dt.datetime(2026, 12, 1, 8, 30), "2026-12-01T08:30:00"),
    (dt.date(2026, 12, 1), "2026-12-01"), (dt.time(8, 30), "08:30:00"),
])
def test_a_cell_reads_as_a_csv_export_would_hold_it(value, text):
    assert cell_text(value) == text


def test_a_zip_whose_type_member_is_corrupt_or_encrypted_is_taken_for_xlsx_not_a_crash():
    def zip_of_type(compression: int) -> bytearray:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", compression) as archive:
            archive.writestr("mimetype", import_tables.ODS_MIMETYPE * 3)
        return bytearray(out.getvalue())

    corrupt = zip_of_type(zipfile.ZIP_DEFLATED)
    at = corrupt.find(b"mimetype") + len(b"mimetype")
    corrupt[at + 2:at + 8] = b"\xff" * 6  # the deflated data no longer inflates (zlib.error)
    assert detect_format(bytes(corrupt)) == "xlsx"
    encrypted = zip_of_type(zipfile.ZIP_STORED)
    encrypted[6] |= 1  # the "encrypted" flag, in the local header and the directory
    encrypted[encrypted.find(b"PK\x01\x02") + 8] |= 1
    assert detect_format(bytes(encrypted)) == "xlsx"


def test_a_spreadsheet_without_sheets_says_so():
    from odf.opendocument import OpenDocumentSpreadsheet

    out = io.BytesIO()
    OpenDocumentSpreadsheet().write(out)
    assert unreadable(import_tables.sheet_rows, out.getvalue(), "ods") == (
        "The spreadsheet has no sheets", None)


def test_the_name_decides_when_the_content_does_not_and_only_a_bom_or_space_is_skipped():
    for name, fmt in [("a.json", "json"), ("a.JSON", "json"), ("a.ods", "ods"), ("a.xls", "xls"),
                      ("a.csv", "csv"), ("a.xlsx", "xlsx")]:
        assert detect_format(b"card,item_barcode\n", name) == fmt, name
    assert detect_format(b"X[1]") == "csv"
    assert detect_format(b"\xef\xbb\xbf\r\n {") == "json"


def test_only_the_first_100_bytes_of_a_zip_type_are_read():
    ods_type = import_tables.ODS_MIMETYPE
    assert detect_format(a_zip(mimetype=ods_type.ljust(100) + b"x")) == "ods"
    assert detect_format(a_zip(mimetype=ods_type.ljust(99) + b"x")) == "xlsx"


def test_the_first_nul_byte_names_the_line():
    assert unreadable(decode, b"card\nN1\x00\nN2\nN3\x00\n")[1] == 2


def test_a_csv_with_mac_line_ends_reads_row_by_row():
    rows, sep = csv_rows("card;title\rN1;Sult\rN2;\"a\rb\"\r")
    assert sep == ";"
    assert list(rows) == [(1, ["card", "title"]), (2, ["N1", "Sult"]), (4, ["N2", "a\rb"])]


def test_empty_rows_and_columns_before_the_table_keep_the_sheet_numbering():
    for make, fmt in ((xlsx, "xlsx"), (ods, "ods")):
        rows = list(import_tables.sheet_rows(make([[None, None, None], [None, "card", "n"],
                                                   [None, "N1", 7]]), fmt))
        assert rows == [(1, ["", "", ""]), (2, ["", "card", "n"]), (3, ["", "N1", "7"])], fmt
