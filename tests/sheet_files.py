"""Real spreadsheet files for import tests: .xlsx written by openpyxl, .ods by odfpy."""

from __future__ import annotations

import io
from typing import Any

from odf.opendocument import OpenDocumentSpreadsheet
from odf.table import Table, TableCell, TableRow
from odf.text import P
from openpyxl import Workbook


def xlsx(rows: list[list[Any]], other_sheets: dict[str, list[list[Any]]] | None = None) -> bytes:
    """Return an .xlsx workbook whose first sheet holds rows (None: an empty cell)."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Bestillinger"
    for row in rows:
        sheet.append(row)
    for name, more in (other_sheets or {}).items():
        extra = book.create_sheet(name)
        for row in more:
            extra.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ods(rows: list[list[Any]]) -> bytes:
    """Return an .ods spreadsheet whose first sheet holds rows (numbers as float cells)."""
    doc = OpenDocumentSpreadsheet()
    table = Table(name="Ark1")
    for row in rows:
        tr = TableRow()
        for value in row:
            if value is None:
                cell = TableCell()
            elif isinstance(value, int | float):
                cell = TableCell(valuetype="float", value=value)
                cell.addElement(P(text=str(value)))
            else:
                cell = TableCell(valuetype="string")
                cell.addElement(P(text=str(value)))
            tr.addElement(cell)
        table.addElement(tr)
    doc.spreadsheet.addElement(table)
    out = io.BytesIO()
    doc.write(out)
    return out.getvalue()
