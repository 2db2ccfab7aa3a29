"""Scans while the central database is away (kiosk.outage), beside the normal figures.

Starts a throw-away PostgreSQL server of its own (scripts/pg-temp.sh, on a free port),
builds a data set there (bench/dataset.py), serves the station with waitress in a child
process (its outage watcher running), and times `POST /kiosk/scan` over one keep-alive
connection, half cards with bags ready and half unknown cards, in three phases:

1. normal: the database up;
2. outage: the server stopped, scans answered from the station's snapshot;
3. back: the server started again (after the watcher has noticed).

Prints median and 99th percentile per phase. Goal: p99 <= 50 ms during the outage.

    python bench/outage_scans.py [--orders 20000] [--scans 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import build_database, settings_for  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PG_TEMP = str(ROOT / "scripts" / "pg-temp.sh")
GOAL_P99_MS = 50.0


def serve(url: str, orders: int, snapshot: str) -> None:
    """Serve the station over url on a free loopback port, watcher running; print the port."""
    from kiosk import create_app
    from kiosk.outage import runtime
    from kiosk.serving import make_server

    app = create_app(settings_for(url, orders, {"database": {"snapshot": snapshot}}))
    runtime.start(app)
    server = make_server(app, "127.0.0.1", 0)
    print(server.effective_port, flush=True)
    server.run()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def health(port: int) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/healthz")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def wait_until(port: int, check, what: str, timeout: float = 60.0) -> None:
    """Ask /healthz until check(body) holds (the bench's own wait, bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check(health(port)):
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def time_scans(port: int, cards: list[str], scans: int) -> dict[str, float]:
    """Time scans over one keep-alive connection; return median, p99 and outcomes seen."""
    rng = random.Random(7)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies, errors, ready = [], 0, 0
    try:
        for i in range(scans):
            card = rng.choice(cards) if i % 2 == 0 else f"N9{rng.randrange(10**8):08d}"
            body = json.dumps({"code": card})
            started = time.perf_counter()
            conn.request("POST", "/kiosk/scan", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status != 200:
                errors += 1
            elif json.loads(data)["outcome"] == "ready":
                ready += 1
    finally:
        conn.close()
    return {"median_ms": statistics.median(latencies), "p99_ms": percentile(latencies, 0.99),
            "max_ms": max(latencies), "errors": errors, "ready": ready, "scans": scans}


def report(label: str, f: dict[str, float]) -> None:
    print(f"  {label:<8} median {f['median_ms']:6.2f} ms   p99 {f['p99_ms']:6.2f} ms   "
          f"max {f['max_ms']:7.2f} ms   ready {f['ready']}/{f['scans']}   errors {f['errors']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--scans", type=int, default=2_000)
    parser.add_argument("--serve", nargs=2, metavar=("URL", "SNAPSHOT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve[0], args.orders, args.serve[1])
        return 0
    folder = tempfile.mkdtemp(prefix="kiosk-outage-bench-")  # under /tmp: postgres reads it
    port = str(free_port())
    child = None
    try:
        admin = subprocess.run([PG_TEMP, "start", folder, port], check=True, text=True,
                               capture_output=True).stdout.strip().splitlines()[-1]
        name = f"bench_{uuid.uuid4().hex[:8]}"
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        engine = create_engine(admin, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        url = make_url(admin).set(database=name).render_as_string(hide_password=False)
        started = time.perf_counter()
        cards = build_database(url, args.orders)
        print(f"{args.orders} orders built in {time.perf_counter() - started:.1f} s; "
              f"{len(cards)} cards with a bag ready")
        child = subprocess.Popen([sys.executable, __file__, "--orders", str(args.orders),
                                  "--serve", url, str(Path(folder) / "snapshot.db")],
                                 stdout=subprocess.PIPE, text=True)
        web = int(child.stdout.readline())
        wait_until(web, lambda b: b.get("snapshot", {}).get("taken_at"), "the first snapshot")
        print(f"scans ({args.scans} per phase, half with bags ready, one connection):")
        report("normal", time_scans(web, cards, args.scans))
        subprocess.run([PG_TEMP, "stop", folder], check=True)
        wait_until(web, lambda b: b["snapshot"]["answering_scans"], "the outage noticed")
        outage = time_scans(web, cards, args.scans)
        report("outage", outage)
        subprocess.run([PG_TEMP, "start", folder, port], check=True, capture_output=True)
        wait_until(web, lambda b: b["database"]["state"] == "ok", "the database back")
        report("back", time_scans(web, cards, args.scans))
        ok = outage["p99_ms"] <= GOAL_P99_MS and not outage["errors"]
        print(f"  goal during the outage: p99 <= {GOAL_P99_MS:.0f} ms, no errors: "
              f"{'met' if ok else 'NOT met'}")
        return 0 if ok else 1
    finally:
        if child is not None:
            child.terminate()
            child.wait(timeout=10)
        subprocess.run([PG_TEMP, "stop", folder], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
