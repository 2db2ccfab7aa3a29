"""Reading an order file: CSV or JSON, checked row by row, without the database.

CSV: UTF-8 (a byte-order mark is fine) with a header row; required columns
`card` and `item_barcode`, optional `title`, `order_ref`, `branch`. Rows that
share an `order_ref` form one order; rows without one form one order per card
(and branch). JSON: a list of `{"ref", "card", "branch", "items": [{"barcode",
"title"}]}`. Every problem is noted with its line or order number, so a file
can be fixed in one go; `check_order` also checks one order sent to the API.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from kiosk.domain.cards import CardReader
from kiosk.domain.orders import NewItem, NewOrder

MAX_BYTES = 16 * 1024 * 1024
MAX_ITEMS = 200  # items in one order
LIMITS = {"card": 64, "item_barcode": 64, "barcode": 64, "title": 500, "order_ref": 64,
          "ref": 64, "branch": 64, "patron_name": 200}
CSV_REQUIRED = ("card", "item_barcode")
CSV_COLUMNS = CSV_REQUIRED + ("title", "order_ref", "branch")
JSON_KEYS = ("ref", "card", "branch", "items", "patron_name")
ITEM_KEYS = ("barcode", "title")

Source = bytes | str | os.PathLike | IO[bytes]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (line or order number), which column, what."""

    problem: str
    line: int | None = None
    column: str | None = None
    order: int | None = None  # position in a JSON list, from 1

    def __str__(self) -> str:
        where = [f"line {self.line}" if self.line else "", f"order {self.order}"
                 if self.order else "", f"column {self.column}" if self.column else ""]
        prefix = ", ".join(w for w in where if w)
        return f"{prefix}: {self.problem}" if prefix else self.problem

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "order": self.order, "column": self.column,
                "problem": self.problem}


@dataclass
class Draft:
    """An order read from the input, with where it started (for problem reports)."""

    new: NewOrder
    line: int | None = None
    order: int | None = None
    lines: dict[str, int] = field(default_factory=dict)  # barcode → line


@dataclass
class Preview:
    """What an import would do: the orders read and every problem found."""

    format: str
    drafts: list[Draft] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.drafts)

    @property
    def items(self) -> int:
        return sum(len(d.new.items) for d in self.drafts)

    @property
    def per_branch(self) -> dict[str, int]:
        return dict(Counter(d.new.branch for d in self.drafts))


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
    """Return "csv" or "json" from the file name's extension, else from the content."""
    suffix = Path(name).suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    if suffix == ".json":
        return "json"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"[", b"{") else "csv"


def _decode(data: bytes, problems: list[Problem]) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        problems.append(Problem(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8", line=line))
        return None


def _text(value: Any, column: str, problems: list[Problem], where: dict[str, Any],
          required: bool = False) -> str | None:
    """Return value stripped, or None; note a problem if it is missing, not text or too long."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.append(Problem(f"{column} is empty", column=column, **where))
        return None
    if not isinstance(value, str):
        problems.append(Problem(f"{column} must be text, got {type(value).__name__}",
                                column=column, **where))
        return None
    text = value.strip()
    if len(text) > LIMITS[column]:
        problems.append(Problem(f"{column} is longer than {LIMITS[column]} characters",
                                column=column, **where))
        return None
    return text


def _card(value: Any, cards: CardReader, problems: list[Problem], where: dict[str, Any]) -> str:
    raw = _text(value, "card", problems, where, required=True)
    number = cards.card(raw) if raw else None
    if raw and number is None:
        # The number itself stays out of the report: reports end up in logs and tickets.
        problems.append(Problem("not a card number the station accepts (see [cards] patterns)",
                                column="card", **where))
    return number or ""


def check_order(data: Any, cards: CardReader, default_branch: str,
                order: int | None = None) -> tuple[Draft | None, list[Problem]]:
    """Check one order given as a JSON object; return the draft (or None) and problems."""
    where = {"order": order}
    problems: list[Problem] = []
    if not isinstance(data, dict):
        return None, [Problem("an order must be an object", **where)]
    for key in data:
        if key not in JSON_KEYS:
            problems.append(Problem(f"unknown key (known: {', '.join(JSON_KEYS)})",
                                    column=str(key)[:40], **where))
    ref = _text(data.get("ref"), "ref", problems, where)
    card = _card(data.get("card"), cards, problems, where)
    branch = _text(data.get("branch"), "branch", problems, where) or default_branch
    name = _text(data.get("patron_name"), "patron_name", problems, where)
    items = data.get("items")
    new_items: list[NewItem] = []
    if not isinstance(items, list) or not items:
        problems.append(Problem("items must be a list of at least one item", column="items",
                                **where))
        items = []
    elif len(items) > MAX_ITEMS:
        problems.append(Problem(f"more than {MAX_ITEMS} items", column="items", **where))
        items = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        column = f"items[{i}]"
        if not isinstance(item, dict):
            problems.append(Problem("an item must be an object", column=column, **where))
            continue
        for key in item:
            if key not in ITEM_KEYS:
                problems.append(Problem(f"unknown key (known: {', '.join(ITEM_KEYS)})",
                                        column=f"{column}.{str(key)[:40]}", **where))
        found: list[Problem] = []
        barcode = _text(item.get("barcode"), "barcode", found, where, required=True)
        title = _text(item.get("title"), "title", found, where)
        problems += [Problem(p.problem, column=f"{column}.{p.column}", **where) for p in found]
        if barcode and barcode in seen:
            problems.append(Problem(f"barcode {barcode} appears twice in this order",
                                    column=f"{column}.barcode", **where))
        elif barcode:
            seen.add(barcode)
            new_items.append(NewItem(barcode, title))
    if problems:
        return None, problems
    new = NewOrder(card=card, items=tuple(new_items), branch=branch, ref=ref, patron_name=name)
    return Draft(new, order=order), []


def read_orders(data: bytes, fmt: str, cards: CardReader, default_branch: str) -> Preview:
    """Check a whole file's bytes as fmt ("csv" or "json"); return its orders and problems."""
    pv = Preview(fmt)
    if len(data) > MAX_BYTES:
        pv.problems.append(Problem(f"file larger than {MAX_BYTES // (1024 * 1024)} MiB; "
                                   "split it into several imports"))
        return pv
    text = _decode(data, pv.problems)
    if text is None:
        return pv
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        pv.problems.append(Problem("the file contains NUL characters; is it really text?",
                                   line=line))
        return pv
    (_parse_json if fmt == "json" else _parse_csv)(text, cards, default_branch, pv)
    return pv


def _parse_json(text: str, cards: CardReader, default_branch: str, pv: Preview) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        pv.problems.append(Problem(f"not valid JSON: {exc.msg}", line=exc.lineno))
        return
    except RecursionError:
        pv.problems.append(Problem("not valid JSON: nested too deeply"))
        return
    if not isinstance(data, list):
        pv.problems.append(Problem("the file must hold a list of orders ([{...}, ...])"))
        return
    for n, obj in enumerate(data, start=1):
        draft, problems = check_order(obj, cards, default_branch, order=n)
        pv.problems += problems
        if draft:
            pv.drafts.append(draft)


def _parse_csv(text: str, cards: CardReader, default_branch: str, pv: Preview) -> None:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        pv.problems.append(Problem(f"not readable as CSV: {exc}", line=1))
        return
    if not header or not any(h.strip() for h in header):
        pv.problems.append(Problem("empty file: expected a header row with "
                                   f"{', '.join(CSV_REQUIRED)}", line=1))
        return
    columns = [h.strip().lower() for h in header]
    for name in CSV_REQUIRED:
        if name not in columns:
            pv.problems.append(Problem("required column missing", line=1, column=name))
    for name, count in Counter(columns).items():
        if name not in CSV_COLUMNS:
            pv.problems.append(Problem(f"unknown column (known: {', '.join(CSV_COLUMNS)})",
                                       line=1, column=name[:40] or "(empty)"))
        elif count > 1:
            pv.problems.append(Problem("column appears more than once", line=1, column=name))
    if pv.problems:
        return
    groups: dict[tuple, Draft] = {}
    owners: dict[str, tuple[str, str, int]] = {}  # ref → card, branch, first line
    rows = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            pv.problems.append(Problem(f"not readable as CSV: {exc}", line=reader.line_num))
            return
        line = reader.line_num
        if not any(v.strip() for v in row):
            continue
        rows += 1
        if len(row) != len(columns):
            pv.problems.append(Problem(f"{len(row)} fields, the header has {len(columns)}",
                                       line=line))
            continue
        _csv_row(dict(zip(columns, row, strict=True)), line, cards, default_branch, pv,
                 groups, owners)
    if not rows:
        pv.problems.append(Problem("no orders in the file, only a header", line=1))
    pv.drafts = list(groups.values())


def _csv_row(row: dict[str, str], line: int, cards: CardReader, default_branch: str,
             pv: Preview, groups: dict[tuple, Draft], owners: dict) -> None:
    where = {"line": line}
    found: list[Problem] = []
    card = _card(row["card"], cards, found, where)
    barcode = _text(row["item_barcode"], "item_barcode", found, where, required=True)
    title = _text(row.get("title"), "title", found, where)
    ref = _text(row.get("order_ref"), "order_ref", found, where)
    branch = _text(row.get("branch"), "branch", found, where) or default_branch
    if ref and ref in owners and not found:
        first_card, first_branch, first = owners[ref]
        if first_card != card:
            found.append(Problem(f"order_ref {ref} has a different card on line {first}",
                                 column="order_ref", **where))
        elif first_branch != branch:
            found.append(Problem(f"order_ref {ref} has a different branch on line {first}",
                                 column="branch", **where))
    pv.problems += found
    if found:
        return
    if ref:
        owners.setdefault(ref, (card, branch, line))
    key = ("ref", ref) if ref else ("card", card, branch)
    draft = groups.get(key)
    if draft is None:
        draft = groups[key] = Draft(NewOrder(card=card, items=(), branch=branch, ref=ref),
                                    line=line)
    if barcode in draft.lines:
        pv.problems.append(Problem(f"barcode {barcode} is already in this order on line "
                                   f"{draft.lines[barcode]}", column="item_barcode", **where))
        return
    if len(draft.new.items) >= MAX_ITEMS:
        pv.problems.append(Problem(f"more than {MAX_ITEMS} items in one order",
                                   column="item_barcode", **where))
        return
    draft.lines[barcode] = line
    draft.new = NewOrder(card=card, branch=branch, ref=ref,
                         items=draft.new.items + (NewItem(barcode, title),))
