"""An order file as a table: CSV as spreadsheets really write it, or a spreadsheet itself.

CSV comes in the encodings and separators that Excel and LibreOffice write:
"CSV UTF-8" (with a byte-order mark), "CSV (semikolonseparert)" from a Norwegian
Excel (Windows-1252, `;`), LibreOffice with `,` or `;`. The encoding is detected
(UTF-8 with or without BOM, else Windows-1252) and the separator is counted in
the header line, never taken from the file name. A file that is neither (binary,
UTF-16, NUL bytes) is refused with a message saying what to do.

`.xlsx` and `.ods` are read with python-calamine (first sheet; the first row
that is not empty is the header); `.xls` is refused with a hint.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kiosk.domain.messages import N_

SPREADSHEETS = ("xlsx", "ods")
FORMATS = ("csv", "json", *SPREADSHEETS)
MAX_UNPACKED = 256 * 1024 * 1024  # bytes a spreadsheet may unpack to (a zip bomb is refused)
DELIMITERS = ",;\t"
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old .xls (and other Office 97 files)
_SEP_LINE = re.compile(r"^\ufeff?sep=(.)\r?\n")  # Excel's optional "sep=;" first line
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0e-\x1f\x7f]")
# A UTF-8 letter of the Latin-1 range (æ, ø, å, é ...): "Ã¸" read as Windows-1252, never
# Norwegian text.
_UTF8_PAIR = re.compile(rb"[\xc2\xc3][\x80-\xbf]")

Rows = Iterator[tuple[int, list[str]]]  # (line or spreadsheet row number, cells)


class Unreadable(Exception):
    """The file cannot be read as a table; template and params say why (see messages)."""

    def __init__(self, template: str, line: int | None = None, **params: Any):
        super().__init__(template % params if params else template)
        self.template, self.line, self.params = template, line, params


def detect_format(data: bytes, name: str = "") -> str:
    """Return "csv", "json", "xlsx", "ods" or "xls": from the content, else the name."""
    if data.startswith(b"PK\x03\x04"):  # a zip: OpenDocument names its type first
        return "ods" if _zip_mimetype(data) == ODS_MIMETYPE else "xlsx"
    if data.startswith(OLE_MAGIC):
        return "xls"
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix in (".json", ".ods", ".xls"):
        return suffix[1:]
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"[", b"{") else "csv"


def _zip_mimetype(data: bytes) -> bytes | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read("mimetype")[:100].strip()
    except (KeyError, zipfile.BadZipFile, ValueError, OSError, RuntimeError, zlib.error):
        return None


def decode(data: bytes) -> tuple[str, str]:
    """Return the text of data and its encoding's name; raise Unreadable if it is not text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise Unreadable(N_("The file is UTF-16 text; save it as CSV UTF-8 or as CSV "
                            "(semicolon separated)"), line=1)
    if b"\x00" in data:
        raise Unreadable(N_("The file contains NUL bytes: it is not a CSV text file "
                            "(a spreadsheet or UTF-16 text?)"),
                         line=data[: data.index(b"\x00")].count(b"\n") + 1)
    try:
        text, encoding = data.decode("utf-8-sig"), "UTF-8"
    except UnicodeDecodeError as first:
        utf8 = _UTF8_PAIR.search(data)
        if utf8:  # æøå as UTF-8 and a byte that is not: read as Windows-1252, both go wrong
            raise Unreadable(N_("The file mixes UTF-8 (line %(utf8)d) and another encoding; "
                                "save it again as CSV UTF-8"),
                             line=data[: first.start].count(b"\n") + 1,
                             utf8=data[: utf8.start()].count(b"\n") + 1) from None
        try:
            text, encoding = data.decode("cp1252"), "Windows-1252"
        except UnicodeDecodeError as exc:
            raise Unreadable(N_("Neither UTF-8 nor Windows-1252 text (byte 0x%(byte)02x); "
                                "save the file as CSV UTF-8"),
                             line=data[: exc.start].count(b"\n") + 1,
                             byte=data[exc.start]) from None
    bad = _CONTROL.search(text)
    if bad:
        raise Unreadable(N_("The file contains control characters: it is not a CSV text "
                            "file"), line=text[: bad.start()].count("\n") + 1)
    return text, encoding


def sniff_delimiter(text: str) -> str:
    """Return the separator the header line uses most (outside quotes): `,`, `;` or tab.

    The header is the first line holding any of them: a title line above it ("Takeaway-
    bestillinger uke 49", saved alone on its line) has none.
    """
    for line in itertools.islice(io.StringIO(text), 100):
        counts = dict.fromkeys(DELIMITERS, 0)
        quoted = False
        for ch in line:
            if ch == '"':
                quoted = not quoted
            elif not quoted and ch in counts:
                counts[ch] += 1
        best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the first: `,`
        if counts[best]:
            return best
    return ","


def csv_rows(text: str) -> tuple[Rows, str]:
    """Return the rows of CSV text with their line numbers, and the separator used."""
    sep = _SEP_LINE.match(text)
    delimiter = sep.group(1) if sep else sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    def rows() -> Rows:
        for n, row in enumerate(reader):
            if n == 0 and sep:
                continue
            yield reader.line_num, row

    return rows(), delimiter


def sheet_rows(data: bytes, fmt: str) -> Rows:
    """Return the rows of a spreadsheet's first sheet as text, numbered as the sheet shows."""
    if fmt == "xls":
        raise Unreadable(N_("Old Excel files (.xls) are not read; save it as .xlsx or CSV"))
    what = "Excel (.xlsx)" if fmt == "xlsx" else "OpenDocument (.ods)"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError):
        raise Unreadable(N_("Not a readable %(what)s file"), what=what) from None
    if unpacked > MAX_UNPACKED:
        raise Unreadable(N_("The spreadsheet unpacks to more than %(mib)d MiB; split it"),
                         mib=MAX_UNPACKED // (1024 * 1024))
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        if not book.sheet_names:
            raise Unreadable(N_("The spreadsheet has no sheets"))
        cells = book.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except Unreadable:
        raise
    except Exception:  # noqa: BLE001  calamine's zip, XML and format errors alike
        raise Unreadable(N_("Not a readable %(what)s file"), what=what) from None
    return ((n, [cell_text(v) for v in row]) for n, row in enumerate(cells, start=1))


class NumberCell(str):
    """A cell the spreadsheet held as a number: any leading zeros it was typed with are gone."""

    __slots__ = ()


def cell_text(value: Any) -> str:
    """Return a spreadsheet cell as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return NumberCell(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return NumberCell(int(value))  # 300001.0 → "300001": numbers in a sheet are floats
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value)
