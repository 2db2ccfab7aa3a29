"""Build a large station database for benchmarks: many orders, a tenth of them on the shelf.

`build_database(url, orders)` migrates the schema, creates the shelves of
`shelves_for(orders)` and bulk-inserts orders, items and places with
SQLAlchemy core, so 100,000 orders take seconds rather than minutes. Serve
the result with `settings_for(url, orders)` so the shelves match.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
from typing import Any

from sqlalchemy import func, insert, select

from kiosk import create_app
from kiosk.config import Settings, parse
from kiosk.domain.pickup_codes import LETTERS
from kiosk.extensions import db
from kiosk.models import Item, Order, Place, Slot
from kiosk.schema import upgrade_database

BRANCH = "main"
SLOTS_PER_SHELF = 100
CAPACITY = 5
READY_SHARE = 0.10  # orders on a slot, ready to collect
OVERDUE_SHARE = 0.10  # of those, bags past their last day (work for clearance)
WAITING_SHARE = 0.01  # orders received or being packed
CLOSED = ("collected", "collected", "collected", "expired", "cancelled")
CHUNK = 5_000


def shelves_for(orders: int, branches: int = 1) -> list[dict[str, Any]]:
    """Return shelf configuration with room for every ready order of the data set (of one
    of `branches` branches sharing the orders)."""
    places = max(-(-int(orders * READY_SHARE) // branches), 1)
    per_shelf = SLOTS_PER_SHELF * CAPACITY
    count = max(-(-places // per_shelf), 1)
    return [{"name": f"S{i + 1}", "slots": SLOTS_PER_SHELF, "capacity": CAPACITY}
            for i in range(count)]


def settings_for(url: str, orders: int = 100_000, extra: dict | None = None,
                 branches: tuple[str, ...] = (BRANCH,)) -> Settings:
    """Return station settings over url whose shelves match the data set (rate limit off):
    a station of the first of branches, all of which share the orders."""
    data: dict[str, Any] = {
        "station": {"name": "Benchmark station", "branch": branches[0]},
        "database": {"url": url},
        "kiosk": {"rate_limit": "off"},
        "logging": {"level": "WARNING"},
        "shelves": shelves_for(orders, len(branches)),
    }
    for key, value in (extra or {}).items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return parse(data, source="bench")


def _codes(rng: random.Random) -> list[str]:
    codes = [f"{a}{b}-{n:03d}" for a in LETTERS for b in LETTERS for n in range(1000)]
    rng.shuffle(codes)
    return codes


def build_database(url: str, orders: int = 100_000,
                   branches: tuple[str, ...] = (BRANCH,)) -> list[str]:
    """Create schema and shelves at url, insert orders; return cards that have ready orders.

    With several branches every branch gets its own wall (the same shelf names) and the
    orders are dealt out among them in turn; a ready order lies on its own branch's wall.
    """
    rng = random.Random(20261128)
    for branch in reversed(branches):  # each branch's `kiosk init`; the first one last
        app = create_app(settings_for(url, orders,
                                      branches=(branch, *(b for b in branches if b != branch))),
                         {"TESTING": True})
        upgrade_database(app)
        if branch != branches[0]:
            with app.app_context():
                db.engine.dispose()
    ready_n = int(orders * READY_SHARE)
    waiting_n = int(orders * WAITING_SHARE)
    codes = _codes(rng)
    today = dt.date.today()
    now = dt.datetime.now(dt.UTC)
    ready_cards: set[str] = set()
    with app.app_context(), db.engine.begin() as conn:
        first_id = (conn.scalar(select(func.max(Order.id))) or 0) + 1
        taken = select(Order.place_id).where(Order.place_id.is_not(None))
        free: dict[str, list] = {b: [] for b in branches}
        for place_id, slot_id, wall in conn.execute(
                select(Place.id, Place.slot_id, Slot.branch).join(Slot, Place.slot_id == Slot.id)
                .where(Place.id.not_in(taken), Slot.branch.in_(branches)).order_by(Place.id)):
            free[wall].append((place_id, slot_id))
        labels = dict(conn.execute(db.text("SELECT id, label FROM slots")).all())
        if min(len(p) for p in free.values()) * len(branches) < ready_n:
            raise ValueError(f"too few free places for {ready_n} ready orders")
        cards = max(orders // 3, 1)  # about three orders per card over time
        order_rows: list[dict[str, Any]] = []
        item_rows: list[dict[str, Any]] = []
        for i in range(orders):
            oid = first_id + i
            branch = branches[i % len(branches)]
            card = f"N{rng.randrange(cards) + 100_000_000:09d}"
            created = now - dt.timedelta(days=rng.randrange(1, 400), minutes=rng.randrange(1440))
            row: dict[str, Any] = {
                "id": oid, "ref": f"bench-{oid}", "card": card, "patron_name": None,
                "branch": branch, "pickup_code": codes[i % len(codes)], "source": "import",
                "place_id": None, "slot_label": None, "deadline": None, "created_at": created,
                "updated_at": created, "packed_at": None, "shelved_at": None, "closed_at": None,
                "anonymised_at": None, "pack_note": None,
            }
            if i < ready_n:
                place_id, slot_id = free[branch][i // len(branches)]
                overdue = rng.random() < OVERDUE_SHARE
                days = -rng.randrange(1, 6) if overdue else rng.randrange(1, 8)
                shelved = now - dt.timedelta(days=10 if overdue else 8 - days)
                row.update(status="ready", place_id=place_id, slot_label=labels[slot_id],
                           deadline=today + dt.timedelta(days=days),
                           packed_at=shelved, shelved_at=shelved)
                ready_cards.add(card)
            elif i < ready_n + waiting_n:
                row["status"] = rng.choice(("received", "packing"))
            else:
                row.update(status=rng.choice(CLOSED), closed_at=created + dt.timedelta(days=5))
            order_rows.append(row)
            for n in range(rng.randint(1, 3)):
                item_rows.append({"order_id": oid, "barcode": f"0300{oid:08d}{n}",
                                  "title": f"Bok {oid}.{n}"})
            if len(order_rows) >= CHUNK:
                _flush(conn, order_rows, item_rows)
        _flush(conn, order_rows, item_rows)
    with app.app_context():
        db.engine.dispose()
    return sorted(ready_cards)


def _flush(conn, order_rows: list[dict], item_rows: list[dict]) -> None:
    if order_rows:
        conn.execute(insert(Order.__table__), order_rows)
    if item_rows:
        conn.execute(insert(Item.__table__), item_rows)
    order_rows.clear()
    item_rows.clear()


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "sqlite:////tmp/kiosk-bench.db"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    started = time.perf_counter()
    found = build_database(target, count)
    print(f"{count} orders in {time.perf_counter() - started:.1f} s; "
          f"{len(found)} cards with ready orders, e.g. {found[:3]}")
