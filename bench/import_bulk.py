"""Benchmark: a big order import against the database's own bulk speed, in the same run.

For each size (default 10,000 and 100,000 orders of one item each) and each database
(SQLite, and PostgreSQL with --postgres URL), two child processes start on a fresh,
migrated database:

- `import`: the station's import (`importer.preview` then `importer.import_orders`,
  what `kiosk import FILE` does), timed in its phases, with the child's peak RSS
  (`resource.getrusage(...).ru_maxrss`);
- `raw`: the same order and item rows written with the driver's own `executemany`
  (sqlite3 or psycopg) in one transaction: the floor.

    nice python bench/import_bulk.py [--sizes 10000,100000] [--postgres URL]

The PostgreSQL URL must let the benchmark create and drop a database (`kiosk_bench_import`).
Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BRANCH = "main"
BENCH_DB = "kiosk_bench_import"


def write_csv(path: Path, orders: int) -> None:
    """Write a CSV of `orders` orders with one item each."""
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["card", "item_barcode", "title", "order_ref"])
        for n in range(orders):
            out.writerow([f"N{100_000_000 + n % 40_000:09d}", f"0300{n:08d}",
                          f"Bok nummer {n}", f"IMP-{n:07d}"])


def _app(url: str):
    from kiosk import create_app
    from kiosk.config import parse
    from kiosk.schema import upgrade_database

    settings = parse({"station": {"name": "Bench", "branch": BRANCH},
                      "database": {"url": url}, "logging": {"level": "WARNING"},
                      "shelves": [{"name": "A", "slots": 10, "capacity": 3}]}, source="bench")
    app = create_app(settings, {"TESTING": True})
    upgrade_database(app)
    return app


def child_import(url: str, file: str) -> dict[str, Any]:
    """Import file into the database at url the way `kiosk import` does; return timings."""
    from kiosk.domain import importer
    from kiosk.domain.orders import Actor
    from kiosk.extensions import db

    app = _app(url)
    with app.app_context():
        st = app.extensions["station"]
        t0 = time.perf_counter()
        pv = importer.preview(db.session, file, st.cards, st.branch)
        t1 = time.perf_counter()
        result = importer.import_orders(db.session, pv, Actor("bench", "Bench"), st.cards,
                                        st.branch)
        t2 = time.perf_counter()
        db.session.remove()
        db.engine.dispose()
    return {"orders": result.orders, "read_check_s": t1 - t0, "write_s": t2 - t1,
            "total_s": t2 - t0,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_raw(url: str, file: str) -> dict[str, Any]:
    """Write the file's orders and items with the driver's executemany; return the time."""
    import datetime as dt

    from sqlalchemy.engine import make_url

    from kiosk.domain.pickup_codes import all_codes

    app = _app(url)  # the same schema, indexes included
    with app.app_context():
        from kiosk.extensions import db
        db.engine.dispose()
    with open(file, newline="") as fh:
        rows = list(csv.DictReader(fh))
    codes = random.Random(1).sample(all_codes(), len(rows))
    now = dt.datetime.now(dt.UTC)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        import sqlite3
        conn = sqlite3.connect(u.database)
        stamp: Any = now.isoformat(" ")
        mark = "?"
    else:
        import psycopg
        conn = psycopg.connect(u.set(drivername="postgresql").render_as_string(False))
        stamp, mark = now, "%s"
    orders = [(n + 1, r["order_ref"], r["card"], BRANCH, "received", code, "import", stamp,
               stamp) for n, (r, code) in enumerate(zip(rows, codes, strict=True))]
    items = [(n + 1, r["item_barcode"], r["title"]) for n, r in enumerate(rows)]
    marks = ", ".join([mark] * 9)
    t0 = time.perf_counter()
    cur = conn.cursor()
    cur.executemany("INSERT INTO orders (id, ref, card, branch, status, pickup_code, source, "
                    f"created_at, updated_at) VALUES ({marks})", orders)
    cur.executemany(f"INSERT INTO items (order_id, barcode, title) VALUES ({mark}, {mark}, "
                    f"{mark})", items)
    conn.commit()
    elapsed = time.perf_counter() - t0
    conn.close()
    return {"orders": len(rows), "total_s": elapsed}


def _fresh(kind: str, pg: str | None, tmp: Path) -> str:
    """Return the URL of an empty database of kind."""
    if kind == "sqlite":
        path = tmp / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(pg).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    return make_url(pg).set(database=BENCH_DB).render_as_string(False)


def _child(mode: str, url: str, file: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, url, str(file)],
                         capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"{mode} child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--postgres", help="a PostgreSQL URL (postgresql+psycopg://...)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, url, file = args.child
        print(json.dumps((child_import if mode == "import" else child_raw)(url, file)))
        return
    kinds = ["sqlite"] + (["postgresql"] if args.postgres else [])
    print(f"{'database':<11}{'orders':>8}{'read+check':>12}{'write':>8}{'import':>8}"
          f"{'raw':>7}{'ratio':>7}{'peak RSS':>10}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for size in (int(s) for s in args.sizes.split(",")):
            file = tmp / f"orders-{size}.csv"
            write_csv(file, size)
            for kind in kinds:
                imp = _child("import", _fresh(kind, args.postgres, tmp), file)
                raw = _child("raw", _fresh(kind, args.postgres, tmp), file)
                print(f"{kind:<11}{size:>8}{imp['read_check_s']:>11.2f}s{imp['write_s']:>7.2f}s"
                      f"{imp['total_s']:>7.2f}s{raw['total_s']:>6.2f}s"
                      f"{imp['total_s'] / raw['total_s']:>6.1f}×{imp['maxrss_mb']:>7.0f} MB",
                      flush=True)
    if args.postgres:
        _drop(args.postgres)


def _drop(pg: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    admin = make_url(pg).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


if __name__ == "__main__":
    main()
