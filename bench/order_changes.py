"""Benchmark: collect and shelve throughput under 16 concurrent clients (issue 23).

Serves a fresh station with waitress on a loopback port, creates --orders orders through
the API, then lets --clients threads (each its own HTTP connection, no keep-alive) shelve
every order once (POST /api/v1/orders/<id>/shelve, each client its own orders, spread
over all slots) and then collect every order once (POST .../collect). Prints changes per
second for each phase, and the answers' status codes (every one must be 200: the clients
never touch the same order, so this measures what compare-and-set costs, not conflicts).

    nice python bench/order_changes.py [--orders 800] [--clients 16] [--postgres URL]

With --postgres a throw-away database is made beside the given one (dropped afterwards).
To measure another checkout of the code (the "before" of a change), run this file with
PYTHONPATH pointing at that checkout: only the public API is used.

Measured 2026-12-07 (issue 23), 400 orders, 7 runs each, before and after interleaved;
"before" is the same tree with the compare-and-set code reverted and version_id_col off
(git worktree). The 2 cores had a load average of 8-13 from other work, so single runs
varied 3x; best of 7 (median in brackets), changes per second:
    SQLite      shelve  79.4 (59.1) -> 96.4 (40.5)   collect 187.7 (140.6) -> 180.5 (142.1)
    PostgreSQL  shelve  61.8 (39.1) -> 59.8 (53.3)   collect 126.3 (83.8) -> 129.7 (103.7)
No cost shows above the noise (best of 7 within -4 % and +21 %); the allowance is 20 %.
"""

from __future__ import annotations

import argparse
import http.client
import json
import tempfile
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kiosk import create_app
from kiosk.config import parse
from kiosk.extensions import db
from kiosk.schema import upgrade_database
from kiosk.serving import make_server, stop_server

TOKEN = "bench-token-0123456789abcdefghijkl"
SLOTS, CAPACITY = 40, 25  # 1,000 places


def _config(url: str, folder: Path, clients: int) -> dict:
    tokens = folder / "api-tokens"
    tokens.write_text(TOKEN + "\n")
    return {"station": {"name": "Bench", "branch": "main"}, "database": {"url": url},
            "shelves": [{"name": "A", "slots": SLOTS, "capacity": CAPACITY}],
            "kiosk": {"rate_limit": "off"}, "api": {"tokens_file": str(tokens)},
            "server": {"threads": clients}, "logging": {"level": "WARNING"}}


def _call(port: int, path: str, body: dict) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", path, json.dumps(body), {
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"{}")
    finally:
        conn.close()


def _phase(port: int, clients: int, requests: list[tuple[str, dict]]) -> tuple[float, Counter]:
    """Send requests from clients threads (each its share, all started together)."""
    shares = [requests[i::clients] for i in range(clients)]
    gate = threading.Barrier(clients)
    codes: Counter = Counter()
    lock = threading.Lock()

    def run(share):
        gate.wait()
        for path, body in share:
            status, _ = _call(port, path, body)
            with lock:
                codes[status] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(run, shares))
    return len(requests) / (time.perf_counter() - started), codes


def run(url: str, orders: int, clients: int) -> dict[str, float]:
    """Return collects and shelvings per second against a fresh database at url."""
    with tempfile.TemporaryDirectory() as folder:
        app = create_app(parse(_config(url, Path(folder), clients)), {"TESTING": True})
        upgrade_database(app)
        server = make_server(app, "127.0.0.1", 0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        port = server.effective_port
        try:
            ids = []
            for n in range(orders):
                status, body = _call(port, "/api/v1/orders", {
                    "card": f"N{n:09d}", "ref": f"bench-{n}",
                    "items": [{"barcode": f"B{n:06d}-1"}, {"barcode": f"B{n:06d}-2"}]})
                assert status == 201, body
                ids.append(body["id"])
            shelve = [(f"/api/v1/orders/{i}/shelve", {"slot": f"A-{n % SLOTS + 1:02d}"})
                      for n, i in enumerate(ids)]
            shelved, s_codes = _phase(port, clients, shelve)
            collected, c_codes = _phase(port, clients,
                                        [(f"/api/v1/orders/{i}/collect", {}) for i in ids])
        finally:
            stop_server(app, server)
            thread.join(timeout=10)
            with app.app_context():
                db.engine.dispose()
    return {"shelve/s": shelved, "collect/s": collected,
            "answers": dict(s_codes + c_codes)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=800)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--postgres", help="an admin URL; a throw-away database is made")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = []
    for _ in range(args.runs):
        if args.postgres:
            name = f"kiosk_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = make_url(args.postgres).set(database=name).render_as_string(
                    hide_password=False)
                results.append(run(url, args.orders, args.clients))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        else:
            with tempfile.TemporaryDirectory() as folder:
                results.append(run(f"sqlite:///{folder}/bench.db", args.orders, args.clients))
    engine = "postgresql" if args.postgres else "sqlite"
    for key in ("shelve/s", "collect/s"):
        values = sorted(r[key] for r in results)
        print(f"{engine} {key}: median {values[len(values) // 2]:.1f} "
              f"(runs: {', '.join(f'{v:.1f}' for v in values)}), {args.clients} clients, "
              f"{args.orders} orders")
    print(f"{engine} answers: {sum((Counter(r['answers']) for r in results), Counter())}")


if __name__ == "__main__":
    main()
