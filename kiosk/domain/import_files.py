"""Reading an order file: CSV, a spreadsheet or JSON, checked row by row, without the database.

CSV (encoding and separator detected, see `import_tables`), `.xlsx` or `.ods`
(first sheet) with a header row; required columns `card` and `item_barcode`,
optional `title`, `order_ref`, `branch`, each also under its Norwegian names
(`import_header.COLUMN_ALIASES`), case and spaces aside. Rows that share an `order_ref` form
one order; rows without one form one order per card (and branch). JSON: a list
of `{"ref", "card", "branch", "items": [{"barcode", "title"}]}`. Every problem
is noted with its line or order number, its column and the row's order ref, so
a file can be fixed in one go; `check_order` also checks one order sent to the API.
Problems are templates marked with N_ and params (English in str(), translated
on the staff pages).
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from kiosk.domain import import_tables, pickup_codes
from kiosk.domain.cards import CardReader
from kiosk.domain.import_problems import (  # noqa: F401  (re-exported: callers take them from here)
    MAX_PROBLEMS,
    Draft,
    Notice,
    Preview,
    Problem,
    Problems,
)
from kiosk.domain.messages import N_
from kiosk.domain.orders import NewItem, NewOrder

# The one upload limit (docs/staff-pages.md, "Order files"): an order file is at most this many
# bytes, from the command line or the staff page alike. A request may be a little larger
# (the form around the file); past that the web server refuses it with 413, in the staff's
# language, with this same message (kiosk.views.errors).
MAX_BYTES = 8 * 1024 * 1024
MAX_REQUEST_BYTES = MAX_BYTES + 64 * 1024
TOO_LARGE = N_("File larger than %(mib)d MiB; split it into several imports")
MAX_ITEMS = 200  # items in one order
LIMITS = {"card": 64, "item_barcode": 64, "barcode": 64, "title": 500, "order_ref": 64,
          "ref": 64, "branch": 64, "patron_name": 200}
CSV_REQUIRED = ("card", "item_barcode")
CSV_COLUMNS = CSV_REQUIRED + ("title", "order_ref", "branch")
JSON_KEYS = ("ref", "card", "branch", "items", "patron_name")
ITEM_KEYS = ("barcode", "title")

Source = bytes | str | os.PathLike | IO[bytes]


# --- reading -----------------------------------------------------------------

def read_source(source: Source) -> tuple[bytes, str]:
    """Return the bytes of source (a path, bytes or a binary file) and its name."""
    if isinstance(source, bytes | bytearray):
        return bytes(source), ""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        with path.open("rb") as fh:
            return fh.read(MAX_BYTES + 1), path.name
    return source.read(MAX_BYTES + 1), str(getattr(source, "name", "") or "")


def detect_format(data: bytes, name: str = "") -> str:
    """Return "csv", "json", "xlsx", "ods" or "xls": from the content, else the name."""
    return import_tables.detect_format(data, name)


def _text(value: Any, column: str, problems: list[Problem], where: dict[str, Any],
          required: bool = False, label: str | None = None) -> str | None:
    """Return value stripped, or None; note a problem if it is missing, not text or too long.

    label is the column's name in the file (an alias), column the name it stands for.
    """
    label = label or column
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(Problem(N_("No value in %(column)s"), column=label,
                                    params={"column": label}, **where))
        return None
    if not isinstance(value, str):
        problems.append(Problem(N_("The value in %(column)s must be text, got %(type)s"),
                                column=label,
                                params={"column": label, "type": type(value).__name__}, **where))
        return None
    text = value.strip()
    if len(text) > LIMITS[column]:
        problems.append(Problem(N_("The value in %(column)s is longer than %(n)d characters"),
                                column=label, params={"column": label, "n": LIMITS[column]},
                                **where))
        return None
    return text


NOT_A_CARD = N_("Not a card number this station accepts: %(value)s; check the number, or ask "
                "IT which card numbers are set up")
ZEROS_LOST = N_("The spreadsheet holds the card number %(value)s as a number, so leading zeros "
                "may have been lost; format the column as text and type the numbers again")
ZEROS_LONGEST = 24  # characters a card restored with zeros may have


def _card(value: Any, cards: CardReader, problems: list[Problem], where: dict[str, Any],
          label: str = "card") -> str:
    numeric = isinstance(value, import_tables.NumberCell)
    raw = _text(value, "card", problems, where, required=True, label=label)
    if raw and numeric:
        return _numeric_card(raw, cards, problems, where, label)
    number = cards.card(raw) if raw else None
    if raw and number is None:
        problems.append(Problem(NOT_A_CARD, column=label, params={"value": raw[:64]}, **where))
    return number or ""


def _numeric_card(raw: str, cards: CardReader, problems: list[Problem],
                  where: dict[str, Any], label: str) -> str:
    """Return the card a number cell stood for: zeros put back when one length fits.

    A spreadsheet keeps 0012345678 as 12345678. When the card patterns allow only one
    length of the number with zeros before it, that is the card; when they allow several
    (or the number as read and a longer one), the card cannot be known: a problem.
    """
    fits = [c for c in (raw.zfill(n) for n in range(len(raw), ZEROS_LONGEST + 1))
            if cards.card(c) == c]
    if len(fits) == 1:
        return fits[0]
    template = ZEROS_LOST if fits else NOT_A_CARD
    problems.append(Problem(template, column=label, params={"value": raw[:64]}, **where))
    return ""


def check_order(data: Any, cards: CardReader, default_branch: str,
                order: int | None = None) -> tuple[Draft | None, list[Problem]]:
    """Check one order given as a JSON object; return the draft (or None) and problems."""
    where: dict[str, Any] = {"order": order}
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return None, [Problem(N_("An order must be an object"), **where)]
    if isinstance(data.get("ref"), str) and data["ref"].strip():
        where["ref"] = data["ref"].strip()[:LIMITS["ref"]]
    for key in data:
        if key not in JSON_KEYS:
            problems.append(Problem(N_("Unknown key (known: %(known)s)"), column=str(key)[:40],
                                    params={"known": ", ".join(JSON_KEYS)}, **where))
    ref = _text(data.get("ref"), "ref", problems, where)
    card = _card(data.get("card"), cards, problems, where)
    branch = _text(data.get("branch"), "branch", problems, where) or default_branch
    name = _text(data.get("patron_name"), "patron_name", problems, where)
    items = data.get("items")
    new_items: list[NewItem] = []
    if not isinstance(items, list) or not items:
        problems.append(Problem(N_("Items must be a list of at least one item"),
                                column="items", **where))
        items = []
    elif len(items) > MAX_ITEMS:
        problems.append(Problem(N_("More than %(n)d items"), column="items",
                                params={"n": MAX_ITEMS}, **where))
        items = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        column = f"items[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem(N_("An item must be an object"), column=column, **where))
            continue
        for key in item:
            if key not in ITEM_KEYS:
                problems.append(Problem(N_("Unknown key (known: %(known)s)"),
                                        column=f"{column}.{str(key)[:40]}",
                                        params={"known": ", ".join(ITEM_KEYS)}, **where))
        found: list[Problem] = []
        barcode = _text(item.get("barcode"), "barcode", found, where, required=True)
        title = _text(item.get("title"), "title", found, where)
        problems += [replace(p, column=f"{column}.{p.column}") for p in found]
        if barcode and barcode in seen:
            problems.append(Problem(N_("Barcode %(barcode)s appears twice in this order"),
                                    column=f"{column}.barcode", params={"barcode": barcode},
                                    **where))
        elif barcode:
            seen.add(barcode)
            new_items.append(NewItem(barcode, title))
    if problems:
        return None, problems
    new = NewOrder(card=card, items=tuple(new_items), branch=branch, ref=ref, patron_name=name)
    return Draft(new, order=order), []


class Branches:
    """The library's branches, matched without case: spell() gives the known spelling.

    An exact match is asked first (`in` on the known branches may be one cheap query);
    only a branch in other case lists them all, once.
    """

    def __init__(self, known: Collection[str]):
        self.known = known
        self._folded: dict[str, str] | None = None
        self._seen: dict[str, str | None] = {}

    def spell(self, branch: str) -> str | None:
        """Return branch as the library spells it, or None if it is not one of them."""
        if branch not in self._seen:
            if branch in self.known:
                self._seen[branch] = branch
            else:
                if self._folded is None:
                    self._folded = {b.casefold(): b for b in self.known}
                self._seen[branch] = self._folded.get(branch.casefold())
        return self._seen[branch]

    def listed(self) -> str:
        """Return every known branch, for a problem's text."""
        return ", ".join(sorted(self.known))


def check_branches(drafts: list[Draft], known: Collection[str]) -> list[Problem]:
    """Return a problem for each order whose branch is not one of the known branches.

    Branches match without case; a draft's branch is set to the known spelling.
    """
    spelled = Branches(known)
    unknown = []
    for d in drafts:
        branch = spelled.spell(d.new.branch)
        if branch is None:
            unknown.append(d)
        elif branch != d.new.branch:
            d.new = replace(d.new, branch=branch)
    listed = spelled.listed() if unknown else ""  # listing them may read an index
    return [Problem(N_("Unknown branch %(branch)s (the library's branches: %(known)s)"),
                    line=d.line, order=d.order, ref=d.new.ref,
                    column=d.branch_column or "branch",
                    params={"branch": d.new.branch, "known": listed})
            for d in unknown]


def check_code_space(orders: int, held: int) -> list[Problem]:
    """Return a problem if orders new orders cannot each get a pickup code.

    held: codes open orders hold now. Only pickup_codes.SPACE codes exist, so this is
    told in the preview rather than found when the import is written.
    """
    free = max(0, pickup_codes.SPACE - held)
    if orders <= free:
        return []
    return [Problem(N_("%(orders)d orders need a pickup code each, but only %(free)d of the "
                       "%(space)d codes are free (open orders hold the rest); import fewer "
                       "orders at a time"),
                    params={"orders": orders, "free": free, "space": pickup_codes.SPACE})]


def parse_json(text: str, cards: CardReader, default_branch: str, pv: Preview) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        pv.problems.append(Problem(N_("Not valid JSON: %(error)s"), line=exc.lineno,
                                   params={"error": exc.msg}))
        return
    except RecursionError:
        pv.problems.append(Problem(N_("Not valid JSON: nested too deeply")))
        return
    if not isinstance(data, list):
        pv.problems.append(Problem(N_("The file must hold a list of orders ([{...}, ...])")))
        return
    for n, obj in enumerate(data, start=1):
        draft, problems = check_order(obj, cards, default_branch, order=n)
        pv.problems += problems
        if draft:
            pv.drafts.append(draft)
