"""Small spreadsheet files that unpack into very large sheets (issue 26), written by hand.

`repeated_ods` is an .ods under a kilobyte whose one data row says it repeats a million
times; `long_xlsx` is an .xlsx of a million real rows (each its own order); `far_xlsx`
has a header and one value at the sheet's last cell. Used by tests and bench/import_files.py.
"""

from __future__ import annotations

import io
import zipfile

ODS_MIME = "application/vnd.oasis.opendocument.spreadsheet"
_ODS_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
           'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
           'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')


def _ods_cell(text: str) -> str:
    return (f'<table:table-cell office:value-type="string"><text:p>{text}</text:p>'
            '</table:table-cell>')


def ods_from_rows_xml(rows_xml: str) -> bytes:
    """Return an .ods whose first sheet is rows_xml (table:table-row elements)."""
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODS_NS} '
               'office:version="1.2"><office:body><office:spreadsheet>'
               f'<table:table table:name="Ark1">{rows_xml}</table:table>'
               '</office:spreadsheet></office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{ODS_MIME}"/>'
                '<manifest:file-entry manifest:full-path="content.xml" '
                'manifest:media-type="text/xml"/></manifest:manifest>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", ODS_MIME, compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/manifest.xml", manifest)
        z.writestr("content.xml", content)
    return out.getvalue()


def ods_row(*cells: str, repeated: int = 1) -> str:
    """Return one table:table-row of text cells, repeated as the attribute says."""
    attr = f' table:number-rows-repeated="{repeated}"' if repeated > 1 else ""
    return f"<table:table-row{attr}>{''.join(_ods_cell(c) for c in cells)}</table:table-row>"


def repeated_ods(times: int = 1_000_000) -> bytes:
    """Return an .ods of a header and one order row said to repeat `times` times."""
    return ods_from_rows_xml(ods_row("card", "item_barcode")
                             + ods_row("N000000001", "0300000001", repeated=times))


def _xlsx(sheet_rows: object) -> bytes:
    """Return an .xlsx whose one sheet has the rows sheet_rows yields (XML text)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            '.org/package/2006/content-types"><Default Extension="rels" ContentType="'
            'application/vnd.openxmlformats-package.relationships+xml"/><Default Extension='
            '"xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.'
            'main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="'
            'application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '</Types>'))
        rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
        z.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            f'{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>'))
        z.writestr("xl/workbook.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.'
            f'openxmlformats.org/spreadsheetml/2006/main" xmlns:r="{rel}"><sheets><sheet '
            'name="Bestillinger" sheetId="1" r:id="rId1"/></sheets></workbook>'))
        z.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="'
            f'{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>'))
        with z.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://'
                        b'schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            for row in sheet_rows:
                sheet.write(row.encode())
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def _xlsx_row(n: int, *cells: str, first_column: str = "A") -> str:
    start = ord(first_column)
    inner = "".join(f'<c r="{chr(start + i)}{n}" t="inlineStr"><is><t>{v}</t></is></c>'
                    for i, v in enumerate(cells))
    return f'<row r="{n}">{inner}</row>'


def long_xlsx(rows: int = 1_000_000) -> bytes:
    """Return an .xlsx of a header and rows orders, each for its own card (under 8 MiB:
    cells without their optional references, barcodes as numbers)."""
    def lines():
        yield _xlsx_row(1, "card", "item_barcode")
        for n in range(2, rows + 2):
            yield (f'<row><c t="inlineStr"><is><t>N{n:09d}</t></is></c><c><v>{n}</v></c>'
                   '</row>')
    return _xlsx(lines())


def far_xlsx() -> bytes:
    """Return an .xlsx of a header, one order and a value in the sheet's very last cell."""
    return _xlsx(iter([_xlsx_row(1, "card", "item_barcode"), _xlsx_row(2, "N000000002", "1"),
                       '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>']))


def plain_xlsx(rows: list[list[str]]) -> bytes:
    """Return an .xlsx of rows as text cells, written directly (fast for 100,000 rows)."""
    def escape(v: str) -> str:
        return v.replace("&", "&amp;").replace("<", "&lt;")
    return _xlsx("<row>" + "".join(f'<c t="inlineStr"><is><t>{escape(v)}</t></is></c>'
                                   for v in row) + "</row>" for row in rows)


def plain_ods(rows: list[list[str]]) -> bytes:
    """Return an .ods of rows as text cells, written directly (fast for 100,000 rows)."""
    return ods_from_rows_xml("".join(ods_row(*(v.replace("&", "&amp;").replace("<", "&lt;")
                                               for v in row)) for row in rows))
