"""A spreadsheet's size counted before it is unpacked into cells.

An .ods row may say `number-rows-repeated="1000000"` in 60 bytes, an .xlsx cell may sit
at row 1,048,576: a reader that builds the sheet's cells first (python-calamine does)
spends gigabytes on them. `check_extent` streams the first sheet's XML with expat,
counting rows and columns up to the last one holding a value (repeats multiplied, not
expanded; trailing empty rows and columns, which LibreOffice writes for formatting, do
not count) and the text in cells, and stops at the first row past the limits. Together
with the row limit of the table reader, this keeps a preview's memory bounded whatever
the file says (docs/staff-pages.md, "Order files").
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from typing import IO, Any
from xml.parsers import expat

from kiosk.domain.messages import N_

MAX_ROWS = 100_000  # rows of orders in a table, the header aside (CSV too)
MAX_CELLS = (MAX_ROWS + 1) * 6  # rows × columns of a sheet: the 5 columns and 1 more
TOO_MANY_ROWS = N_("More than %(n)d rows; split the file into several imports")
# Bytes of cell text (UTF-8), every sheet and shared string counted, a repeated cell as
# often as it repeats: 100,000 real rows hold about 10 MiB.
MAX_TEXT = 16 * 1024 * 1024
TOO_MUCH_TEXT = N_("The spreadsheet holds more than %(mib)d MiB of text; split it into "
                   "several imports")
TOO_MANY_CELLS = N_("The first sheet spans %(rows)d rows and %(columns)d columns, more "
                    "than %(n)d cells; delete what is not orders, or split the file")

_ODS = "urn:oasis:names:tc:opendocument:xmlns:"
_TABLE, _OFFICE = _ODS + "table:1.0", _ODS + "office:1.0"
_XLSX = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CELL_REF = re.compile(r"([A-Z]{1,3})(\d+)$")


class _Past(Exception):
    """The sheet is past a limit: template and params say which."""

    def __init__(self, template: str, **params: int):
        super().__init__(template)
        self.template, self.params = template, params


class _Extent:
    """Rows and columns up to the last value, checked against the limits as they grow."""

    def __init__(self) -> None:
        self.rows = self.columns = 0

    def saw(self, last_row: int, last_column: int) -> None:
        self.rows = max(self.rows, last_row)
        self.columns = max(self.columns, last_column)
        if self.rows > MAX_ROWS + 1:  # the header row besides
            raise _Past(TOO_MANY_ROWS, n=MAX_ROWS)
        if self.rows * self.columns > MAX_CELLS:
            raise _Past(TOO_MANY_CELLS, rows=self.rows, columns=self.columns, n=MAX_CELLS)


class _Text:
    """Bytes of cell text seen so far, checked against MAX_TEXT as they come."""

    def __init__(self) -> None:
        self.chars = 0
        self.counting = False  # inside a cell (or a shared string)

    def data(self, text: str) -> None:
        if self.counting:
            self.add(len(text.encode()))

    def add(self, chars: int) -> None:
        self.chars += chars
        if self.chars > MAX_TEXT:
            raise _Past(TOO_MUCH_TEXT, mib=MAX_TEXT // (1024 * 1024))


def _parser(start: Any, end: Any, text: _Text | None = None) -> expat.XMLParserType:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler, parser.EndElementHandler = start, end
    if text is not None:
        parser.CharacterDataHandler = text.data
        parser.buffer_text = True  # one call per text, not per line or buffer

    def no_doctype(*_args: Any) -> None:  # no DTD, so no entity can expand either
        raise ValueError("a DOCTYPE in a spreadsheet part")

    parser.StartDoctypeDeclHandler = no_doctype
    return parser


def _repeat(attrs: dict[str, str], name: str) -> int:
    try:
        return max(1, int(attrs.get(f"{_TABLE} {name}", "1")))
    except ValueError:
        return 1


def _scan_ods(fh: IO[bytes]) -> None:
    """Check every sheet: the reader unpacks them all when it opens the file.

    A cell's text counts as often as the cell and its row repeat: the reader copies it.
    """
    text = _Text()
    state: dict[str, Any] = {"extent": None, "row": 0, "rows": 1, "column": 0, "last": 0,
                             "cell": 0, "filled": False, "cell_text": 0, "row_text": 0}

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == f"{_TABLE} table":
            state.update(extent=_Extent(), row=0)
        elif state["extent"] is None:
            return
        elif name == f"{_TABLE} table-row":
            state.update(column=0, last=0, row_text=0,
                         rows=_repeat(attrs, "number-rows-repeated"))
        elif name in (f"{_TABLE} table-cell", f"{_TABLE} covered-table-cell"):
            state.update(cell=_repeat(attrs, "number-columns-repeated"), cell_text=0,
                         filled=f"{_OFFICE} value-type" in attrs)
        elif state["cell"]:
            state["filled"] = True  # text inside a cell

    def data(chars: str) -> None:
        if state["cell"]:
            state["cell_text"] += len(chars.encode())

    def end(name: str) -> None:
        if state["extent"] is None:
            return
        if name in (f"{_TABLE} table-cell", f"{_TABLE} covered-table-cell"):
            state["column"] += state["cell"]
            state["row_text"] += state["cell_text"] * state["cell"]
            if state["filled"]:
                state["last"] = state["column"]
            state.update(cell=0, filled=False, cell_text=0)
        elif name == f"{_TABLE} table-row":
            state["row"] += state["rows"]
            if state["last"]:
                state["extent"].saw(state["row"], state["last"])
                text.add(state["row_text"] * state["rows"])
        elif name == f"{_TABLE} table":
            state["extent"] = None

    parser = _parser(start, end)
    parser.CharacterDataHandler = data
    parser.buffer_text = True
    parser.ParseFile(fh)


def _column_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _scan_xlsx_sheet(fh: IO[bytes], text: _Text) -> None:
    extent = _Extent()
    state = {"row": 0, "column": 0, "filled": False, "last": 0, "in_cell": False}

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == f"{_XLSX} row":
            r = attrs.get("r", "")
            state["row"] = int(r) if r.isdigit() else state["row"] + 1
            state["column"] = state["last"] = 0
        elif name == f"{_XLSX} c":
            ref = _CELL_REF.match(attrs.get("r", ""))
            state["column"] = _column_number(ref.group(1)) if ref else state["column"] + 1
            state["in_cell"], state["filled"] = True, False
            text.counting = True
        elif state["in_cell"] and name in (f"{_XLSX} v", f"{_XLSX} is", f"{_XLSX} f"):
            state["filled"] = True

    def end(name: str) -> None:
        if name == f"{_XLSX} c":
            if state["filled"]:
                state["last"] = max(state["last"], state["column"])
            state["in_cell"] = text.counting = False
        elif name == f"{_XLSX} row" and state["last"]:
            extent.saw(state["row"], state["last"])

    _parser(start, end, text).ParseFile(fh)


def _scan_shared_strings(fh: IO[bytes], text: _Text) -> None:
    """Count the shared strings' text: the reader loads them all when it opens the file."""
    def start(name: str, attrs: dict[str, str]) -> None:
        text.counting = name == f"{_XLSX} t"

    def end(name: str) -> None:
        text.counting = False

    _parser(start, end, text).ParseFile(fh)


def _first_xlsx_sheet(archive: zipfile.ZipFile) -> str | None:
    """Return the path of the workbook's first sheet, as the workbook lists them.

    The reader unpacks only the sheet it is asked for; the others need no check.
    """
    found: dict[str, str] = {}

    def sheet(name: str, attrs: dict[str, str]) -> None:
        if name == f"{_XLSX} sheet" and "id" not in found:
            found["id"] = attrs.get(f"{_REL} id", "")

    def rel(name: str, attrs: dict[str, str]) -> None:
        if name.endswith(" Relationship") and attrs.get("Id") == found.get("id"):
            found["target"] = attrs.get("Target", "")

    with archive.open("xl/workbook.xml") as fh:
        _parser(sheet, None).ParseFile(fh)
    with archive.open("xl/_rels/workbook.xml.rels") as fh:
        _parser(rel, None).ParseFile(fh)
    target = found.get("target")
    if not target:
        return None
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath(
        posixpath.join("xl", target))


def check_extent(archive: zipfile.ZipFile, fmt: str) -> tuple[str, dict[str, int]] | None:
    """Return a problem (template, params) if the first sheet is past the limits, else None.

    A part that is missing or not XML is left to the reader, which names it unreadable.
    """
    try:
        if fmt == "ods":
            with archive.open("content.xml") as fh:
                _scan_ods(fh)
        else:
            text = _Text()
            if "xl/sharedStrings.xml" in archive.namelist():
                with archive.open("xl/sharedStrings.xml") as fh:
                    _scan_shared_strings(fh, text)
            part = _first_xlsx_sheet(archive)
            if part is None:
                return None
            with archive.open(part) as fh:
                _scan_xlsx_sheet(fh, text)
    except _Past as past:
        return past.template, past.params
    except (KeyError, ValueError, OSError, expat.ExpatError, zipfile.BadZipFile,
            RuntimeError, EOFError):
        return None
    return None
