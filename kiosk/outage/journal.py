"""The durable journal of "I have collected it" pressed while the database was away.

Each press is one row in a local SQLite file, committed with `synchronous=FULL` (the
write-ahead log is fsync'd) before the patron is thanked. When the database is back,
`kiosk.outage.replay` applies every pending row once, in order, through `Station.collect`,
and only then marks it done: a crash in between leaves the order collected in the
database and the row pending, and the replay after the restart finds the order collected
and just marks the row done. So an entry is neither lost nor applied twice, as with the
ILS queue (kiosk.ils.queue). Rows are never deleted, only moved on.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from kiosk import clock

PENDING, DONE = "pending", "done"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collects (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL,
    card TEXT NOT NULL,
    station TEXT NOT NULL,
    at REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    outcome TEXT,
    done_at REAL
);
CREATE UNIQUE INDEX IF NOT EXISTS collects_pending_order
    ON collects (order_id) WHERE state = 'pending';
"""


@dataclass(frozen=True)
class Entry:
    """One collect done at the kiosk while the database was away."""

    id: int
    order_id: int
    card: str
    station: str
    at: float  # Unix time the patron pressed the button
    state: str = PENDING
    outcome: str | None = None


class Journal:
    """The journal file: add a collect, list those pending, mark one done."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # every commit fsync'd
        self._conn.executescript(_SCHEMA)
        self._pending = {e.order_id for e in self.pending()}

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._conn.close()

    def add(self, order_id: int, card: str, station: str, at: float | None = None) -> Entry:
        """Write a collect durably and return it; a second press for one order is the first."""
        with self._lock:
            row = self._conn.execute(
                "SELECT id, order_id, card, station, at, state, outcome FROM collects"
                " WHERE order_id = ? AND state = ?", (order_id, PENDING)).fetchone()
            if row is not None:
                return Entry(*row)
            at = clock.timestamp() if at is None else at
            cur = self._conn.execute(
                "INSERT INTO collects (order_id, card, station, at) VALUES (?, ?, ?, ?)",
                (order_id, card, station, at))
            self._pending.add(order_id)
            return Entry(cur.lastrowid or 0, order_id, card, station, at)

    def pending(self) -> list[Entry]:
        """Return the collects not yet applied to the database, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, order_id, card, station, at, state, outcome FROM collects"
                " WHERE state = ? ORDER BY id", (PENDING,)).fetchall()
        return [Entry(*r) for r in rows]

    def pending_orders(self) -> frozenset[int]:
        """Return the ids of orders collected here and not yet told to the database."""
        with self._lock:
            return frozenset(self._pending)

    def done(self, entry: Entry, outcome: str) -> None:
        """Mark entry applied, with what applying it did."""
        with self._lock:
            self._conn.execute("UPDATE collects SET state = ?, outcome = ?, done_at = ?"
                               " WHERE id = ?", (DONE, outcome[:500], clock.timestamp(), entry.id))
            self._pending.discard(entry.order_id)

    def recent(self, limit: int = 50) -> list[Entry]:
        """Return the latest collects of either state, newest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, order_id, card, station, at, state, outcome FROM collects"
                " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [Entry(*r) for r in rows]


def open_journal(path: Path) -> Journal:
    """Open (creating if needed) the journal at path."""
    try:
        return Journal(path)
    except sqlite3.Error as exc:
        raise OSError(f"cannot open the outage journal {path}: {exc}") from exc
