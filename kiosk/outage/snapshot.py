"""The branch's local copy of what a scan needs, kept for when the database is away.

One SQLite file holds the open orders of this station's branch (card, status, pickup code,
slot, last day, item count; names and titles only when the screen shows them). It is
written whole into a temporary file beside it, synced, then renamed over the old one, so
a crash leaves either the old copy or the new one, never half of either. Scans read an
in-memory copy of it (`SnapshotData`); the file is what a restarted station starts from.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from kiosk.domain.lookup import IN_BAG, ITEMS_IN_BAG, LookupResult, Pickup
from kiosk.models import Item, Order, OrderStatus

FORMAT = 1
OPEN = (OrderStatus.RECEIVED.value, OrderStatus.PACKING.value, OrderStatus.READY.value)

# (order_id, status, pickup_code, slot_label, deadline ISO, patron_name, items, titles)
Row = tuple[int, str, str, str | None, str | None, str | None, int, tuple[str, ...]]

_ITEMS = ITEMS_IN_BAG  # the scan's own count: a bag packed short counts what is in it


@dataclass(frozen=True)
class SnapshotData:
    """A branch's open orders by card, and when the database last vouched for them."""

    branch: str
    taken_at: float  # Unix time the database last confirmed this content
    by_card: dict[str, tuple[Row, ...]] = field(default_factory=dict)
    digest: str = ""

    @property
    def orders(self) -> int:
        return sum(len(rows) for rows in self.by_card.values())


def read_orders(conn: Connection, branch: str, *, titles: bool = False,
                names: bool = False) -> dict[str, list[Row]]:
    """Return the branch's open orders by card, in the order a scan lists them."""
    query = (select(Order.id, Order.card, Order.status, Order.pickup_code, Order.slot_label,
                    Order.deadline, Order.patron_name, _ITEMS.label("items"))
             .where(Order.branch == branch, Order.card.is_not(None), Order.status.in_(OPEN))
             # as the scan's own query sorts one card's orders (kiosk.domain.lookup)
             .order_by(Order.card, Order.slot_label, Order.id))
    found: dict[int, list[str]] = {}
    if titles:
        for order_id, title in conn.execute(
                select(Item.order_id, Item.title).join(Order, Item.order_id == Order.id)
                .where(Order.branch == branch, Order.status == OrderStatus.READY.value,
                       Item.title.is_not(None), IN_BAG).order_by(Item.id)):
            found.setdefault(order_id, []).append(title)
    by_card: dict[str, list[Row]] = {}
    for oid, card, status, code, slot, deadline, name, items in conn.execute(query):
        by_card.setdefault(card, []).append(
            (oid, str(status), code, slot, str(deadline) if deadline else None,
             name if names else None, int(items or 0), tuple(found.get(oid, ()))))
    return by_card


def build(branch: str, by_card: dict[str, list[Row]], taken_at: float) -> SnapshotData:
    """Return the snapshot of by_card, with a digest telling whether its content changed."""
    frozen = {card: tuple(rows) for card, rows in by_card.items()}
    digest = hashlib.sha256(json.dumps(sorted(frozen.items()), separators=(",", ":"))
                            .encode()).hexdigest()
    return SnapshotData(branch, taken_at, frozen, digest)


def write(path: Path, data: SnapshotData) -> None:
    """Write data to path atomically: a synced temporary file renamed over the old one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # card numbers: 0600
    conn = sqlite3.connect(tmp)
    try:
        conn.execute("PRAGMA journal_mode=OFF")  # the rename is the transaction
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("CREATE TABLE orders (seq INTEGER PRIMARY KEY, card TEXT, order_id INTEGER,"
                     " status TEXT, pickup_code TEXT, slot_label TEXT, deadline TEXT,"
                     " patron_name TEXT, items INTEGER, titles TEXT)")
        conn.execute("CREATE INDEX orders_card ON orders (card)")
        conn.executemany("INSERT INTO meta VALUES (?, ?)", [
            ("format", str(FORMAT)), ("branch", data.branch), ("taken_at", repr(data.taken_at)),
            ("digest", data.digest)])
        conn.executemany(
            "INSERT INTO orders (card, order_id, status, pickup_code, slot_label, deadline,"
            " patron_name, items, titles) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(card, *row[:7], json.dumps(row[7])) for card, rows in data.by_card.items()
             for row in rows])
        conn.commit()
    finally:
        conn.close()
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync(path.parent)  # the rename itself survives a power cut


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: Path, branch: str) -> SnapshotData | None:
    """Return the snapshot in path if it is one of branch's, else None (absent or unreadable)."""
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta"))
            if meta.get("format") != str(FORMAT) or meta.get("branch") != branch:
                return None
            by_card: dict[str, list[Row]] = {}
            for card, *row, titles in conn.execute(
                    "SELECT card, order_id, status, pickup_code, slot_label, deadline,"
                    " patron_name, items, titles FROM orders ORDER BY seq"):
                by_card.setdefault(card, []).append((*row, tuple(json.loads(titles))))
        finally:
            conn.close()
    except (sqlite3.Error, ValueError):
        return None
    data = build(branch, by_card, float(meta["taken_at"]))
    return data


def lookup(data: SnapshotData, card: str, collected: set[int] | frozenset[int] = frozenset(),
           *, show_titles: bool = False, show_names: bool = False) -> LookupResult:
    """Answer a scan of card from data as `find_pickups` would; collected orders are left out."""
    rows = [r for r in data.by_card.get(card, ()) if r[0] not in collected]
    ready = [r for r in rows if r[1] == OrderStatus.READY]
    pickups = [Pickup(order_id=r[0], pickup_code=r[2], slot=r[3] or "",
                      shelf=(r[3] or "").split("-")[0], items=r[6], deadline=r[4],
                      titles=list(r[7]) if show_titles else [])
               for r in ready]
    waiting = len(rows) - len(ready)
    outcome = "ready" if pickups else ("waiting" if waiting else "nothing")
    name = next((r[5] for r in rows if r[5]), None) if show_names else None
    return LookupResult(outcome=outcome, pickups=pickups, waiting=waiting, name=name)


def describe(data: SnapshotData | None) -> dict[str, Any]:
    """Return what /healthz says of a snapshot (no card numbers)."""
    if data is None:
        return {"taken_at": None, "orders": 0}
    return {"taken_at": data.taken_at, "orders": data.orders}
