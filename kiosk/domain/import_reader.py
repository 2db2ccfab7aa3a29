"""Reading a whole order file: CSV and spreadsheets as tables of rows, or JSON.

The table's header names the columns, in English or by a Norwegian alias
(`COLUMN_ALIASES`, compared without case, spaces, "_", "-" or "."); each row
is checked (`import_files`) and rows are grouped into orders: by `order_ref`,
else one order per card and branch.
"""

from __future__ import annotations

import csv
import io
import zipfile

from kiosk.domain import import_files, import_sheets, import_tables
from kiosk.domain.cards import CardReader
from kiosk.domain.import_files import (
    CSV_COLUMNS,
    CSV_REQUIRED,
    LIMITS,
    MAX_ITEMS,
    Draft,
    Preview,
    Problem,
    _card,
    _text,
    parse_json,
)
from kiosk.domain.messages import N_
from kiosk.domain.orders import NewItem, NewOrder

# Column names a file may use, besides the English ones (compared without case, spaces,
# "_", "-" or "."); listed in the README.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "card": ("card", "card_number", "lånekort", "lanekort", "lånekortnummer", "kortnummer",
             "kort", "lånenummer", "lånarnummer"),
    "item_barcode": ("item_barcode", "barcode", "item", "strekkode", "eksemplar",
                     "strekkode_eksemplar", "eksemplarstrekkode", "eksemplarnummer", "exnr"),
    "title": ("title", "tittel"),
    "order_ref": ("order_ref", "ref", "reference", "order", "referanse", "bestilling",
                  "bestillingsnummer", "bestillingsreferanse", "ordre", "ordrenummer"),
    "branch": ("branch", "filial", "avdeling", "hentested"),
}

def read_orders(data: bytes, fmt: str, cards: CardReader, default_branch: str) -> Preview:
    """Check a whole file's bytes as fmt (csv, json, xlsx, ods); return its orders and problems."""
    pv = Preview(fmt)
    if len(data) > import_files.MAX_BYTES:
        mib = import_files.MAX_BYTES // (1024 * 1024)
        pv.problems.append(Problem(import_files.TOO_LARGE, params={"mib": mib}))
        return pv
    if fmt in import_tables.SPREADSHEETS:
        past = _past_limits(data, fmt)
        if past is not None:
            pv.problems.append(past)
            return pv
    try:
        if fmt in import_tables.SPREADSHEETS or fmt == "xls":
            rows = import_tables.sheet_rows(data, fmt)
        else:
            text, pv.encoding = import_tables.decode(data)
            if fmt == "json":
                parse_json(text, cards, default_branch, pv)
                return pv
            rows, pv.delimiter = import_tables.csv_rows(text)
    except import_tables.Unreadable as exc:
        pv.problems.append(Problem(exc.template, line=exc.line, params=exc.params))
        return pv
    _read_table(rows, cards, default_branch, pv)
    return pv


def _past_limits(data: bytes, fmt: str) -> Problem | None:
    """Return a problem if the spreadsheet's first sheet is too large to unpack, else None.

    Counted before the reader builds the cells; a file that is not a readable zip, or
    would unpack past import_tables.MAX_UNPACKED, is left to the reader's own refusal.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(i.file_size for i in archive.infolist()) > import_tables.MAX_UNPACKED:
                return None
            past = import_sheets.check_extent(archive, fmt)
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    return None if past is None else Problem(past[0], params=past[1])


# --- tables: CSV and spreadsheets ---------------------------------------------

def _column_key(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


ALIAS_KEYS = {_column_key(alias): column for column, aliases in COLUMN_ALIASES.items()
              for alias in aliases}


def _read_header(cells: list[str], line: int, pv: Preview) -> dict[str, int] | None:
    """Return {column: index} for a header row, or None with its problems noted."""
    labels = [c.strip() for c in cells]
    while labels and not labels[-1]:
        labels.pop()  # spreadsheets and some exports add empty columns at the end
    found: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        column = ALIAS_KEYS.get(_column_key(label))
        if column is None:
            pv.problems.append(Problem(
                N_("Unknown column (known: %(known)s, or their Norwegian names)"), line=line,
                column=label[:40] or "(empty)", params={"known": ", ".join(CSV_COLUMNS)}))
        else:
            found.setdefault(column, []).append(i)
    for column in CSV_REQUIRED:
        if column not in found:
            pv.problems.append(Problem(N_("Required column missing"), line=line, column=column))
    for column, where in found.items():
        if len(where) > 1:
            pv.problems.append(Problem(N_("Column appears more than once (%(names)s)"),
                                       line=line, column=column,
                                       params={"names": ", ".join(labels[i] for i in where)}))
    if pv.problems:
        return None
    pv.labels = {column: labels[where[0]] for column, where in found.items()}
    pv.width = len(labels)
    return {column: where[0] for column, where in found.items()}


def _read_table(rows: import_tables.Rows, cards: CardReader, default_branch: str,
                pv: Preview) -> None:
    index: dict[str, int] | None = None
    width = 0  # columns of the header, empty ones at the end left out
    groups: dict[str | tuple[str, str], Draft] = {}  # by ref, else by (card, branch)
    owners: dict[str, tuple[str, str, int]] = {}  # ref → card, branch, first line
    has_rows = False
    read = 0  # rows after the header, empty ones aside
    header_line = 1
    while True:
        try:
            line, row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            pv.problems.append(Problem(N_("Not readable as CSV: %(error)s"),
                                       params={"error": str(exc)}))
            return
        if not any(v.strip() for v in row):
            continue
        if index is None:
            header_line = line
            index = _read_header(row, line, pv)
            if index is None:
                return
            width = pv.width
            continue
        has_rows = True
        read += 1
        if read > import_sheets.MAX_ROWS:  # the file is refused: stop reading it
            pv.problems.append(Problem(import_sheets.TOO_MANY_ROWS, line=line,
                                       params={"n": import_sheets.MAX_ROWS}))
            break
        at = index.get("order_ref")
        ref = row[at].strip()[:LIMITS["order_ref"]] if at is not None and at < len(row) else ""
        if len(row) < width or any(v.strip() for v in row[width:]):
            pv.problems.append(Problem(N_("%(fields)d fields, the header has %(columns)d"),
                                       line=line, ref=ref or None,
                                       params={"fields": len(row), "columns": width}))
            continue
        values = {column: row[i] for column, i in index.items()}
        _row(values, line, ref or None, cards, default_branch, pv, groups, owners)
    if index is None:
        pv.problems.append(Problem(N_("Empty file: expected a header row with %(columns)s"),
                                   line=1, params={"columns": ", ".join(CSV_REQUIRED)}))
    elif not has_rows:
        pv.problems.append(Problem(N_("No orders in the file, only a header"),
                                   line=header_line))
    pv.drafts = list(groups.values())


def _row(row: dict[str, str], line: int, ref_seen: str | None, cards: CardReader,
         default_branch: str, pv: Preview, groups: dict[str | tuple[str, str], Draft],
         owners: dict) -> None:
    where = {"line": line, "ref": ref_seen}
    found: list[Problem] = []
    label = pv.labels.get
    card = _card(row["card"], cards, found, where, pv.labels["card"])  # a required column
    barcode = _text(row["item_barcode"], "item_barcode", found, where, required=True,
                    label=label("item_barcode"))
    title = _text(row.get("title"), "title", found, where, label=label("title"))
    ref = _text(row.get("order_ref"), "order_ref", found, where, label=label("order_ref"))
    branch = (_text(row.get("branch"), "branch", found, where, label=label("branch"))
              or default_branch)
    if ref and ref in owners and not found:
        first_card, first_branch, first = owners[ref]
        if first_card != card:
            found.append(Problem(N_("Order ref %(ref)s has a different card on line %(first)d"),
                                 column=label("order_ref"), params={"ref": ref, "first": first},
                                 **where))
        elif first_branch != branch:
            found.append(Problem(N_("Order ref %(ref)s has a different branch on line "
                                    "%(first)d"), column=label("branch"),
                                 params={"ref": ref, "first": first}, **where))
    pv.problems += found
    if found:
        return
    if ref:
        owners.setdefault(ref, (card, branch, line))
    key = ref or (card, branch)
    draft = groups.get(key)
    if draft is None:
        draft = groups[key] = Draft(NewOrder(card=card, items=(), branch=branch, ref=ref),
                                    line=line, branch_column=label("branch"))
    if barcode in draft.lines:
        pv.problems.append(Problem(N_("Barcode %(barcode)s is already in this order on line "
                                      "%(first)d"), column=label("item_barcode"),
                                   params={"barcode": barcode, "first": draft.lines[barcode]},
                                   **where))
        return
    if len(draft.new.items) >= MAX_ITEMS:
        pv.problems.append(Problem(N_("More than %(n)d items in one order"),
                                   column=label("item_barcode"), params={"n": MAX_ITEMS},
                                   **where))
        return
    draft.lines[barcode] = line
    draft.new = NewOrder(card=card, branch=branch, ref=ref,
                         items=draft.new.items + (NewItem(barcode, title),))
