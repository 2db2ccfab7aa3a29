"""Scan-to-screen latency: last byte into the scanner's pty → event at an SSE client.

The station runs in a process of its own, as `kiosk serve` does: waitress over a
SQLite database of 100,000 orders (`bench/dataset.py`), the serial scanner reading
a real pseudo-terminal. This process plays scanner and screen: each of the 1,000
scans is timed from the moment its last byte has been written to the pty master
until this process, a client of `/kiosk/events`, has read the matching event.

    python bench/scan_to_screen.py [--orders 100000] [--scans 1000] [--db URL]

Targets (2 cores): median ≤ 5 ms, 99th percentile ≤ 20 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dataset import build_database, settings_for  # noqa: E402
from kiosk import create_app  # noqa: E402
from kiosk.devices import runtime  # noqa: E402
from kiosk.serving import make_server  # noqa: E402

WARM_UP = 20


class EventClient:
    """Read `scan` events from /kiosk/events, as the patron screen does."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.conn.request("GET", "/kiosk/events", headers={"Accept": "text/event-stream"})
        self.response = self.conn.getresponse()
        if self.response.status != 200:
            raise SystemExit(f"/kiosk/events answered {self.response.status}")
        self.response.readline()  # "retry: ...": subscribed from here on

    def next_scan(self) -> dict:
        kind, data = None, None
        while True:
            line = self.response.readline()
            if not line:
                raise SystemExit("event stream ended")
            if line.startswith(b"event: "):
                kind = line[7:].strip()
            elif line.startswith(b"data: "):
                data = line[6:]
            elif line == b"\n" and data is not None:
                if kind == b"scan":
                    return json.loads(data)
                kind, data = None, None


def wait_connected(port: int, timeout: float = 15.0) -> None:
    """Wait until /healthz shows the scanner connected."""
    deadline = time.monotonic() + timeout
    detail = ""
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/healthz")
            scanner = json.loads(conn.getresponse().read())["scanner"]
        except OSError:
            scanner = {"state": "starting", "detail": ""}
        finally:
            conn.close()
        if scanner["state"] == "connected":
            return
        detail = scanner["detail"]
        time.sleep(0.05)
    raise SystemExit(f"scanner did not connect: {detail}")


def serve(url: str, orders: int, tty: str) -> None:
    """Run the station as `kiosk serve` does (waitress plus the scanner); print the port."""
    settings = settings_for(url, orders, {"scanner": {"kind": "serial", "port": tty,
                                                      "terminator": "CR", "debounce_s": 0}})
    app = create_app(settings)
    stop_devices = runtime.start(app)
    server = make_server(app, "127.0.0.1", 0)
    print(server.effective_port, flush=True)
    try:
        server.run()
    finally:
        stop_devices()


def ready_cards(url: str, orders: int) -> list[str]:
    """Return the cards with ready orders in an existing benchmark database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as conn:
        cards = conn.scalars(text("SELECT DISTINCT card FROM orders WHERE status = 'ready' "
                                  "ORDER BY card")).all()
    engine.dispose()
    if not cards:
        raise SystemExit(f"{url} has no ready orders; run without --db to build one")
    return list(cards)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run(url: str, orders: int, scans: int, build: bool = True) -> dict[str, float]:
    """Serve the station over url in a process of its own; return latency figures in ms.

    This process plays the scanner (writing to the pty master) and the screen (an SSE
    client), as the hardware and the browser are outside the station's process.
    """
    started = time.perf_counter()
    cards = build_database(url, orders) if build else ready_cards(url, orders)
    built_s = time.perf_counter() - started
    master, slave = os.openpty()
    station = subprocess.Popen([sys.executable, __file__, "--serve", url, os.ttyname(slave),
                                "--orders", str(orders)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(station.stdout.readline())
        wait_connected(port)
        client = EventClient(port)
        latencies = []
        for i in range(WARM_UP + scans):
            os.write(master, cards[i % len(cards)].encode() + b"\r")
            t0 = time.perf_counter()  # the last byte is in the pty
            event = client.next_scan()
            elapsed = (time.perf_counter() - t0) * 1000
            if event.get("source") != "serial" or event.get("outcome") != "ready":
                raise SystemExit(f"unexpected event {event}")
            if i >= WARM_UP:
                latencies.append(elapsed)
        client.conn.close()
    finally:
        station.terminate()
        station.wait(10)
        os.close(master)
        os.close(slave)
    return {"orders": orders, "scans": scans, "build_s": built_s,
            "median_ms": statistics.median(latencies), "p99_ms": percentile(latencies, 0.99),
            "mean_ms": statistics.fmean(latencies), "max_ms": max(latencies),
            "load": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--scans", type=int, default=1_000)
    parser.add_argument("--db", help="reuse this database (SQLAlchemy URL) built by an earlier "
                        "run with --keep; the default builds a fresh one")
    parser.add_argument("--keep", help="build the database at this SQLite path and keep it")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "TTY"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve[0], args.orders, args.serve[1])
        return 0
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as folder:
        if args.db:
            figures = run(args.db, args.orders, args.scans, build=False)
        else:
            url = f"sqlite:///{args.keep or Path(folder) / 'bench.db'}"
            figures = run(url, args.orders, args.scans, build=True)
    print(f"{figures['orders']:,} orders (ready in {figures['build_s']:.1f} s), "
          f"{figures['scans']:,} scans on a pty, SSE client on /kiosk/events")
    print(f"scan to screen: median {figures['median_ms']:.2f} ms, "
          f"p99 {figures['p99_ms']:.2f} ms, mean {figures['mean_ms']:.2f} ms, "
          f"max {figures['max_ms']:.2f} ms  (targets: median <= 5 ms, p99 <= 20 ms)")
    print(f"{os.cpu_count()} CPU(s), load average {figures['load']:.1f} at the end")
    ok = figures["median_ms"] <= 5 and figures["p99_ms"] <= 20
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
