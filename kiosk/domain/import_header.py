"""The header row of an order file: the first row that names the card and item columns.

Column names are the English ones or their Norwegian aliases (`COLUMN_ALIASES`, listed
in docs/staff-pages.md), compared without case, spaces, "_", "-" or ".". Rows above the header (a
title) are skipped with a notice; columns the station does not use are ignored, listed
in one notice.
"""

from __future__ import annotations

from kiosk.domain import import_tables
from kiosk.domain.import_files import CSV_REQUIRED
from kiosk.domain.import_problems import Notice, Preview, Problem
from kiosk.domain.messages import N_

# Column names a file may use, besides the English ones (compared without case, spaces,
# "_", "-" or "."); listed in docs/staff-pages.md.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "card": ("card", "card_number", "lånekort", "lanekort", "lånekortnummer", "kortnummer",
             "kort", "lånenummer", "lånarnummer"),
    "item_barcode": ("item_barcode", "barcode", "item", "strekkode", "eksemplar",
                     "strekkode_eksemplar", "eksemplarstrekkode", "eksemplarnummer", "exnr"),
    "title": ("title", "tittel"),
    "order_ref": ("order_ref", "ref", "reference", "order", "referanse", "bestilling",
                  "bestillingsnummer", "bestillingsreferanse", "ordre", "ordrenummer"),
    "branch": ("branch", "filial", "avdeling", "hentested"),
    "patron_name": ("patron_name", "name", "navn", "namn", "låner", "lånar", "lånernavn",
                    "lånarnamn", "patron"),
}


def _column_key(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


ALIAS_KEYS = {_column_key(alias): column for column, aliases in COLUMN_ALIASES.items()
              for alias in aliases}
HEADER_SEARCH = 20  # rows that are not empty, looked through for the header row
# A missing required column, in the staff's words (the file's own names vary).
MISSING = {"card": N_("No column for the card number (a header such as Lånekort or "
                      "Kortnummer)"),
           "item_barcode": N_("No column for the item barcode (a header such as Strekkode "
                              "or Eksemplar)")}


def _header(cells: list[str]) -> tuple[dict[str, list[int]], list[str], list[str]]:
    """Return a row read as a header: {column: indexes}, its labels, the labels not known."""
    labels = [c.strip() for c in cells]
    while labels and not labels[-1]:
        labels.pop()  # spreadsheets and some exports add empty columns at the end
    found: dict[str, list[int]] = {}
    unknown = []
    for i, label in enumerate(labels):
        column = ALIAS_KEYS.get(_column_key(label))
        if column is None:
            if label:
                unknown.append(label[:40])
        else:
            found.setdefault(column, []).append(i)
    return found, labels, unknown


def _use_header(found: dict[str, list[int]], labels: list[str], unknown: list[str],
                line: int, pv: Preview) -> dict[str, int] | None:
    """Return {column: index} of a header row, or None with its problems noted."""
    missing = [column for column in CSV_REQUIRED if column not in found]
    for column in missing:
        pv.problems.append(Problem(MISSING[column], line=line))
    if missing and unknown:  # one of them may be the missing column, misspelt
        pv.problems.append(Problem(N_("Columns not recognised: %(names)s"), line=line,
                                   params={"names": ", ".join(unknown)}))
    for where in found.values():
        if len(where) > 1:
            pv.problems.append(Problem(N_("Column appears more than once (%(names)s)"),
                                       line=line, column=labels[where[0]],
                                       params={"names": ", ".join(labels[i] for i in where)}))
    if unknown and not missing:
        pv.notices.append(Notice(N_("Columns ignored: %(names)s"),
                                 {"names": ", ".join(unknown)}))
    if pv.problems:
        return None
    pv.labels = {column: labels[where[0]] for column, where in found.items()}
    pv.width = len(labels)
    return {column: where[0] for column, where in found.items()}


def find_header(rows: import_tables.Rows, pv: Preview) -> tuple[dict[str, int] | None, int]:
    """Return the header's {column: index} and line: the first row naming the required columns.

    Rows above it (a title such as "Takeaway-bestillinger uke 49") are skipped with a
    notice; when no row names them, the first row's problems are noted.
    """
    first: tuple[int, list[str]] | None = None
    best: tuple[int, int, list[str]] | None = None  # the row naming most columns, its line
    seen = 0
    for line, row in rows:
        if not any(v.strip() for v in row):
            continue
        seen += 1
        if first is None:
            first = (line, row)
        found, labels, unknown = _header(row)
        if all(c in found for c in CSV_REQUIRED):
            if first[0] != line:
                pv.notices.append(Notice(
                    N_("The header is on line %(line)d; the lines above it were skipped "
                       "(%(text)s)"),
                    {"line": line, "text": " ".join(v.strip() for v in first[1]
                                                    if v.strip())[:80]}))
            return _use_header(found, labels, unknown, line, pv), line
        if best is None or len(found) > best[0]:
            best = (len(found), line, row)
        if seen >= HEADER_SEARCH:
            break
    if best is None:
        pv.problems.append(Problem(N_("Empty file: expected a header row with a card number "
                                      "column and an item barcode column (such as Lånekort "
                                      "and Strekkode)"), line=1))
        return None, 1
    _use_header(*_header(best[2]), best[1], pv)  # notes what that row lacks
    return None, best[1]
