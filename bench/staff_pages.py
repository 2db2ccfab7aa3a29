"""Benchmark: every staff page over a big library's data set, server time and HTML size.

Builds the `bench/dataset.py` data set (100,000 orders, 10,000 bags on 2,000 slots, a
tenth of them overdue, 1,000 to pack) unless --reuse finds it, shared by --branches
branches (3 by default: each its own wall, the orders dealt out in turn), logs an admin
in at the first branch's station and requests each page (its own branch, and the pages
that switch branches with ?branch=all): one request to warm up, then --runs timed ones (in process,
through the WSGI app: server time, no network). Prints median and worst time and the
bytes sent; marks pages over the targets (150 ms, 300 KB).

    nice python bench/staff_pages.py [--orders 100000] [--branches 3] [--reuse]
                                     [--postgres URL] [--by-cpu]

With --postgres the data set is built in that database (its tables are replaced).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from argon2 import PasswordHasher  # noqa: E402
from argon2.profiles import CHEAPEST  # noqa: E402
from dataset import build_database, settings_for  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from kiosk import create_app  # noqa: E402
from kiosk.domain import accounts  # noqa: E402
from kiosk.extensions import db  # noqa: E402
from kiosk.models import Order, StaffUser  # noqa: E402
from kiosk.schema import upgrade_database  # noqa: E402

TARGET_MS, TARGET_KB = 150, 300


BRANCHES = ("sandvika", "bekkestua", "stabekk", "haslum", "rykkinn")


def _prepare(url: str, orders: int, reuse: bool, branches: tuple[str, ...]) -> None:
    """Build the data set at url unless reuse finds it there already."""
    if reuse:
        app = create_app(settings_for(url, orders, branches=branches), {"TESTING": True})
        with app.app_context():
            try:
                have = db.session.scalar(select(func.count(Order.id)))
            except Exception:  # noqa: BLE001  (no tables yet)
                have = 0
            db.engine.dispose()
        if have >= orders:
            upgrade_database(app)  # indexes added since the data set was built
            return
    if url.startswith("postgresql"):
        app = create_app(settings_for(url, orders, branches=branches), {"TESTING": True})
        with app.app_context(), db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        with app.app_context():
            db.engine.dispose()
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{url.removeprefix('sqlite:///')}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    build_database(url, orders, branches)
    print(f"data set built in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def pages(session, branch: str) -> list[tuple[str, str]]:
    """Return (name, path) of every staff page worth timing, with real ids from the data
    (orders of branch, the station's)."""
    ready = session.execute(select(Order.id, Order.card, Order.pickup_code, Order.ref)
                            .where(Order.status == "ready", Order.branch == branch)
                            .limit(1)).one()
    to_pack = session.scalar(select(Order.id).where(Order.status.in_(("received", "packing")),
                                                    Order.branch == branch)
                             .order_by(Order.id).limit(1))
    first_shelf = "S1"
    return [
        ("Shelf map (overview)", "/staff/shelves"),
        ("Shelf map, one shelf", f"/staff/shelves?shelf={first_shelf}"),
        ("Shelf map, find a bag", f"/staff/shelves?code={ready.pickup_code}"),
        ("Shelf map, overdue slots", "/staff/shelves?state=expired"),
        ("Packing pick list", "/staff/packing"),
        ("Packing, one order", f"/staff/packing/{to_pack}"),
        ("Statistics", "/staff/stats"),
        ("Clearance", "/staff/clearance"),
        ("Orders", "/staff/orders"),
        ("Shelf map, all branches", "/staff/shelves?branch=all"),
        ("Packing, all branches", "/staff/packing?branch=all"),
        ("Packing, all, page 5", "/staff/packing?branch=all&page=5"),
        ("Statistics, all branches", "/staff/stats?branch=all"),
        ("Clearance, all branches", "/staff/clearance?branch=all"),
        ("Orders, all branches", "/staff/orders?branch=all"),
        ("Orders, page 500", "/staff/orders?page=500"),
        ("Orders, status ready", "/staff/orders?status=ready"),
        ("Orders, search card", f"/staff/orders?q={ready.card}"),
        ("Orders, search code", f"/staff/orders?q={ready.pickup_code}"),
        ("Orders, search ref", f"/staff/orders?q={ready.ref}"),
        ("Order page", f"/staff/orders/{ready.id}"),
        ("Shelving", "/staff/shelving"),
        ("Shelving, one bag", f"/staff/shelving/{to_pack}"),
        ("Collect", "/staff/collect"),
        ("Import", "/staff/import"),
        ("Slot labels", "/staff/labels"),
        ("Staff accounts", "/staff/users"),
    ]


def _server_pids(app) -> list[int]:
    """Return the PostgreSQL server processes on this machine (backends and workers)."""
    with app.app_context():
        pids = db.session.scalars(text("SELECT pid FROM pg_stat_activity")).all()
        db.session.rollback()
    return [p for p in pids if Path(f"/proc/{p}/stat").exists()]


def _cpu_ms(pids: list[int]) -> float:
    """Return the CPU time used so far by pids, in ms (clock ticks of 10 ms)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total * 1000 / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--branches", type=int, default=3, choices=range(1, 6),
                        help="branches sharing the database (1: the one branch 'main')")
    parser.add_argument("--sqlite", default="/tmp/kiosk-bench-pages.db")
    parser.add_argument("--postgres", help="build and time in this PostgreSQL database instead")
    parser.add_argument("--reuse", action="store_true", help="keep a data set built before")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--by-cpu", action="store_true",
                        help="judge the target by the request thread's CPU time (SQLite on a "
                             "loaded machine) instead of wall time")
    args = parser.parse_args()
    url = args.postgres or f"sqlite:///{args.sqlite}"
    branches = BRANCHES[:args.branches] if args.branches > 1 else ("main",)
    _prepare(url, args.orders, args.reuse, branches)
    accounts.use_hasher(PasswordHasher.from_parameters(CHEAPEST))
    app = create_app(settings_for(url, args.orders, branches=branches), {"TESTING": True,
                                                     "WTF_CSRF_ENABLED": False})
    with app.app_context():
        if db.session.scalar(select(StaffUser.id).where(StaffUser.username == "bench")) is None:
            accounts.create_user(db.session, "bench", "bench password", "admin")
            db.session.commit()
        todo = pages(db.session, branches[0])
        db.session.remove()
    client = app.test_client()
    client.get("/staff/login?lang=en")
    r = client.post("/staff/login", data={"username": "bench", "password": "bench password"})
    assert r.status_code == 302, r.status_code
    engine = url.split(":", 1)[0].split("+")[0]
    print(f"{engine}, {args.orders} orders, {len(branches)} branch(es); median and worst of "
          f"{args.runs} warm requests")
    print(f"{'page':<28}{'status':>7}{'median':>9}{'worst':>9}{'CPU':>9}{'HTML':>10}")
    over = 0
    for name, path in todo:
        client.get(path)  # warm up
        times, cpu, size, status = [], [], 0, 0
        server = _server_pids(app) if engine == "postgresql" else []
        for _ in range(args.runs):
            t0, c0, s0 = time.perf_counter(), time.thread_time(), _cpu_ms(server)
            r = client.get(path)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000 + _cpu_ms(server) - s0)
            size, status = len(r.data), r.status_code
        median, cpu_median = statistics.median(times), statistics.median(cpu)
        # On a shared machine the wall time waits for a core; the CPU time does not. With
        # SQLite it includes the database's work; with PostgreSQL the server processes' CPU
        # time is added (read from /proc: a server on this machine, 10 ms ticks).
        judged = cpu_median if args.by_cpu else median
        flag = " !" if judged > TARGET_MS or size > TARGET_KB * 1024 or status != 200 else ""
        over += bool(flag)
        print(f"{name:<28}{status:>7}{median:>7.0f}ms{max(times):>7.0f}ms{cpu_median:>7.0f}ms"
              f"{size / 1024:>8.0f}KB{flag}", flush=True)
    print(f"{over} page(s) over {TARGET_MS} ms ({'CPU' if args.by_cpu else 'median'}) / "
          f"{TARGET_KB} KB (marked !); load average {os.getloadavg()[0]:.1f}")
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
