"""Scan throughput: `POST /kiosk/scan` against a trivial endpoint on the same server.

Builds (or reuses) a database of 100,000 orders, serves it with waitress in a
child process (rate limit off, logging as in production), then runs client
threads with keep-alive connections against `GET /kiosk/ping`, scans of cards
with ready orders and scans of cards without, in one run. Prints requests per
second and the ratio of each scan rate to the trivial one (target: ≥ 0.8).

With --floor the bench's own server gets two more routes that show where a scan's
cost lies: one that only parses a scan's JSON and answers one of the same shape,
and one that only runs the scan's indexed query on a pooled connection. They are
measured in the same rotation and reported, but are not part of the target.

    python bench/scan_throughput.py [--orders 100000] [--seconds 5] [--clients 8] [--floor]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import build_database, settings_for  # noqa: E402

TARGET = 0.8


def serve(url: str, orders: int, floor: bool) -> None:
    """Serve the station over url on a free loopback port; print the port when ready."""
    from kiosk import create_app
    from kiosk.serving import make_server

    app = create_app(settings_for(url, orders, {"logging": {"level": "INFO"}}))
    if floor:
        add_floor_routes(app)
    server = make_server(app, "127.0.0.1", 0)
    print(server.effective_port, flush=True)
    server.run()


def add_floor_routes(app) -> None:
    """Add the bench-only routes /bench/echo and /bench/query (see the module's text)."""
    from flask import request

    from kiosk.domain.lookup import _open_orders
    from kiosk.extensions import csrf, db

    station = app.extensions["station"]

    def echo():
        code = request.get_json(silent=True)["code"]
        return {"outcome": "nothing", "pickups": [], "waiting": 0, "name": None, "notices": [],
                "offer": None, "source": "screen", "idle_seconds": 20, "at": time.time(),
                "event_id": len(code)}

    def query():
        rows = _open_orders(db.session, request.get_json(silent=True)["code"], station.branch)
        return {"outcome": "ready" if rows else "nothing", "rows": len(rows)}

    for view in (echo, query):
        app.add_url_rule(f"/bench/{view.__name__}", f"bench_{view.__name__}",
                         csrf.exempt(view), methods=["POST"])


def _client(port: int, request, deadline: float, counts: list[int], errors: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    done = 0
    try:
        while time.perf_counter() < deadline:
            method, path, body, expected = request()
            headers = {"Content-Type": "application/json"} if body else {}
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if response.status != expected[0] or (expected[1] and expected[1] not in data):
                errors.append(f"{path}: {response.status} {data[:80]!r}")
            done += 1
    except OSError as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()
        counts.append(done)


def server_cpu(pid: int) -> float:
    """Return the CPU seconds the server process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(port: int, request, seconds: float, clients: int,
            pid: int | None = None) -> tuple[int, float, float]:
    """Return (requests, wall seconds, server CPU seconds) of request() with clients threads."""
    cpu = server_cpu(pid) if pid else 0.0
    counts: list[int] = []
    errors: list[str] = []
    started = time.perf_counter()
    deadline = started + seconds
    threads = [threading.Thread(target=_client, args=(port, request, deadline, counts, errors))
               for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} bad answer(s), e.g. {errors[0]}")
    return sum(counts), elapsed, (server_cpu(pid) - cpu) if pid else 0.0


def requests(cards: list[str]):
    """Return request makers: the trivial endpoint, scans with orders, scans without."""
    with_orders = itertools.cycle(cards)
    rng = random.Random(7)
    nobody = (f"N{rng.randrange(900_000_000, 999_999_999):09d}" for _ in itertools.count())
    lock = threading.Lock()

    def ping():
        return "GET", "/kiosk/ping", None, (204, b"")

    def scan_ready():
        with lock:
            card = next(with_orders)
        return "POST", "/kiosk/scan", json.dumps({"code": card}), (200, b'"ready"')

    def scan_nothing():
        with lock:
            card = next(nobody)
        return "POST", "/kiosk/scan", json.dumps({"code": card}), (200, b'"nothing"')

    def floor_echo():
        return "POST", "/bench/echo", json.dumps({"code": "N123456789"}), (200, b"nothing")

    def floor_query():
        with lock:
            card = next(with_orders)
        return "POST", "/bench/query", json.dumps({"code": card}), (200, b'"ready"')

    return ping, scan_ready, scan_nothing, floor_echo, floor_query


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    parser.add_argument("--db", help="SQLite file to build or reuse (default: a temp folder)")
    parser.add_argument("--floor", action="store_true",
                        help="also measure JSON in and out alone, and the query alone")
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.orders, args.floor)
        return 0
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        path = Path(args.db) if args.db else Path(tmp) / "bench.db"
        url = f"sqlite:///{path}"
        started = time.perf_counter()
        if path.exists():
            print(f"reusing {path}")
            cards = _ready_cards(url)
        else:
            cards = build_database(url, args.orders)
            print(f"built {args.orders} orders in {time.perf_counter() - started:.1f} s")
        child = subprocess.Popen([sys.executable, __file__, "--serve", url,
                                  "--orders", str(args.orders)]
                                 + (["--floor"] if args.floor else []),
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            port = int(child.stdout.readline())
            return _run(port, child.pid, cards, args)
        finally:
            child.terminate()
            child.wait(timeout=10)


def _ready_cards(url: str) -> list[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        cards = conn.execute(text("SELECT DISTINCT card FROM orders WHERE status = 'ready' "
                                  "ORDER BY card")).scalars().all()
    engine.dispose()
    return list(cards)


def _run(port: int, pid: int, cards: list[str], args) -> int:
    ping, scan_ready, scan_nothing, floor_echo, floor_query = requests(cards)
    kinds = {"GET /kiosk/ping": ping, "scan, card with ready orders": scan_ready,
             "scan, card without orders": scan_nothing}
    scans = list(kinds)[1:]
    if args.floor:
        kinds.update({"floor: JSON in and out only": floor_echo,
                      "floor: indexed query only": floor_query})
    for request in kinds.values():  # warm up threads, connections, caches
        measure(port, request, 0.5, args.clients)
    # Short turns, taken in rotation: a load spike on the machine hits every kind alike.
    turns = max(int(args.seconds), 1)
    totals = {name: [0, 0.0, 0.0] for name in kinds}
    for _ in range(turns):
        for name, request in kinds.items():
            for i, value in enumerate(measure(port, request, args.seconds / turns,
                                              args.clients, pid)):
                totals[name][i] += value
    # Requests per wall second, and per second of the server's own CPU time: the second
    # holds steady when other work on the machine takes CPU from the server.
    wall = {name: n / secs for name, (n, secs, _cpu) in totals.items()}
    cpu = {name: n / max(c, 1e-9) for name, (n, _secs, c) in totals.items()}
    print(f"{'':32} {'req/s':>8} {'req/CPU-s':>10}")
    for name in kinds:
        print(f"{name:32} {wall[name]:8.0f} {cpu[name]:10.0f}")
    worst = 1.0
    trivial = next(iter(kinds))
    for name in list(kinds)[1:]:
        ratio, ratio_cpu = wall[name] / wall[trivial], cpu[name] / cpu[trivial]
        if name in scans:
            worst = min(worst, ratio)
        print(f"ratio {name:28} {ratio:5.2f} {ratio_cpu:10.2f}   (of {trivial})")
    print(f"target ≥ {TARGET} (req/s): {'met' if worst >= TARGET else 'NOT met'}")
    return 0 if worst >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
