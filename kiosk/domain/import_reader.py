"""Reading a whole order file: CSV and spreadsheets as tables of rows, or JSON.

The table's header row is found (`import_header`); each row after it is checked,
every problem of it noted (`import_files`), and rows are grouped into orders: by
`order_ref`, else one order per card and branch.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Collection
from typing import Any

from kiosk.domain import (
    identifiers,
    import_files,
    import_header,
    import_sheets,
    import_tables,
)
from kiosk.domain.cards import CardReader
from kiosk.domain.import_files import (
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


def read_orders(data: bytes, fmt: str, cards: CardReader, default_branch: str,
                branches: Collection[str] | None = None) -> Preview:
    """Check a whole file's bytes as fmt (csv, json, xlsx, ods); return its orders and problems.

    With branches (the library's), a row's branch is matched without case and stored as
    the library spells it; any other branch is a problem of that row.
    """
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
    _read_table(rows, cards, default_branch, pv, branches)
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

def _read_table(rows: import_tables.Rows, cards: CardReader, default_branch: str,
                pv: Preview, branches: Collection[str] | None = None) -> None:
    try:
        index, header_line = import_header.find_header(rows, pv)
    except csv.Error as exc:
        pv.problems.append(Problem(N_("Not readable as CSV: %(error)s"),
                                   params={"error": str(exc)}))
        return
    if index is None:
        return
    width = pv.width  # columns of the header, empty ones at the end left out
    groups: dict[str | tuple[str, str], Draft] = {}  # by ref, else by (card, branch)
    owners: dict[str, tuple[str, str, int]] = {}  # ref → card, branch, first line
    known = import_files.Branches(branches) if branches is not None else None
    read = 0  # rows after the header, empty ones aside
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
        _row(values, line, ref or None, cards, default_branch, pv, groups, owners, known)
    if not read:
        pv.problems.append(Problem(N_("No orders in the file, only a header"),
                                   line=header_line))
    pv.drafts = list(groups.values())


def _branch(branch: str, known: import_files.Branches | None, found: list[Problem],
            where: dict[str, Any], label: str | None) -> str:
    """Return branch as the library spells it; note a problem if it is not one of known."""
    spelled = known.spell(branch) if known is not None else branch
    if spelled is None:
        found.append(Problem(N_("Unknown branch %(branch)s (the library's branches: "
                                "%(known)s)"), column=label or "branch",
                             params={"branch": branch, "known": known.listed()}, **where))
        return branch
    return spelled


def _one_line(text: str | None) -> str | None:
    """Return text with its line breaks as spaces (Alt+Enter in a spreadsheet cell)."""
    if text is None or ("\n" not in text and "\r" not in text):
        return text
    return " ".join(part.strip() for part in text.splitlines() if part.strip())


def _checked(values: dict[str, str | None], labels: dict[str, str], found: list[Problem],
             where: dict[str, Any]) -> None:
    """Note a problem for each value of a row that may not travel (kiosk.domain.identifiers)."""
    for column, value in values.items():
        if value is None or (value.isascii() and value.isprintable() and "|" not in value):
            continue  # the usual case: nothing to look at closer
        check = (identifiers.identifier_problem if column in ("item_barcode", "order_ref")
                 else identifiers.text_problem)
        label = labels.get(column, column)
        problem = check(value, label)
        if problem:
            found.append(Problem(problem[0], column=label, params=problem[1], **where))


def _row(row: dict[str, str], line: int, ref_seen: str | None, cards: CardReader,
         default_branch: str, pv: Preview, groups: dict[str | tuple[str, str], Draft],
         owners: dict, known: import_files.Branches | None = None) -> None:
    """Check one row, noting every problem it has; add a good row to its order."""
    where = {"line": line, "ref": ref_seen}
    found: list[Problem] = []
    label = pv.labels.get
    card = _card(row["card"], cards, found, where, pv.labels["card"])  # a required column
    barcode = _text(row["item_barcode"], "item_barcode", found, where, required=True,
                    label=label("item_barcode"))
    title = _one_line(_text(row.get("title"), "title", found, where, label=label("title")))
    ref = _text(row.get("order_ref"), "order_ref", found, where, label=label("order_ref"))
    name = _one_line(_text(row.get("patron_name"), "patron_name", found, where,
                           label=label("patron_name")))
    branch = _text(row.get("branch"), "branch", found, where, label=label("branch"))
    _checked({"item_barcode": barcode, "order_ref": ref, "title": title, "branch": branch,
              "patron_name": name}, pv.labels, found, where)
    branch = _branch(branch or default_branch, known, found, where, label("branch"))
    if ref and ref in owners:
        first_card, first_branch, first = owners[ref]
        if card and first_card != card:
            found.append(Problem(N_("Order ref %(ref)s has a different card on line %(first)d"),
                                 column=label("order_ref"), params={"ref": ref, "first": first},
                                 **where))
        elif first_branch.casefold() != branch.casefold():
            found.append(Problem(N_("Order ref %(ref)s has a different branch on line "
                                    "%(first)d"), column=label("branch"),
                                 params={"ref": ref, "first": first}, **where))
    elif ref and card:
        owners[ref] = (card, branch, line)
    pv.problems += found
    if found:
        return
    key = ref or (card, branch.casefold())
    draft = groups.get(key)
    if draft is None:
        draft = groups[key] = Draft(NewOrder(card=card, items=(), branch=branch, ref=ref,
                                             patron_name=name),
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
    new = draft.new  # built directly: dataclasses.replace costs a third of a row's check
    draft.new = NewOrder(card=new.card, branch=new.branch, ref=new.ref,
                         patron_name=new.patron_name, items=new.items + (NewItem(barcode, title),))
