"""Scan-to-screen latency: last byte into the scanner's pty → event at an SSE client.

The station runs in a process of its own, as `kiosk serve` does: waitress over a
SQLite database of 100,000 orders (`bench/dataset.py`), the serial scanner reading
a real pseudo-terminal. This process plays scanner and screen: each of the 1,000
scans is timed from the moment its last byte has been written to the pty master
until this process, a client of `/kiosk/events`, has read the matching event.

    python bench/scan_to_screen.py [--orders 100000] [--scans 1000] [--db URL] [--holds]

With `--holds` the same scans run a second time with `[ils] holds_from_ils` on: each
scan then also asks a library system for the card's waiting holds (63/64 over SIP2)
before the screen gets its event. The library system is pysip2's SIP2 server in a
third process on loopback, answering with each card's shelved items as its holds.

Targets (2 cores, local lookup): median ≤ 5 ms, 99th percentile ≤ 20 ms.
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
ILS_USER, ILS_PASSWORD, ILS_INSTITUTION = "bench", "bench-secret", "benchlib"


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


def waiting_holds(url: str) -> dict[str, list[str]]:
    """Return the item barcodes of every card's ready orders: the holds the ILS lists."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    holds: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for card, barcode in conn.execute(text(
                "SELECT o.card, i.barcode FROM orders o JOIN items i ON i.order_id = o.id "
                "WHERE o.status = 'ready' ORDER BY i.id")):
            holds.setdefault(card, []).append(barcode)
    engine.dispose()
    return holds


def serve_ils(url: str) -> None:
    """Play the library system: pysip2's SIP2 server on loopback; print its port."""
    import anyio
    from pysip2 import (
        LOGIN,
        PATRON_INFORMATION,
        LoginResponse,
        PatronInformationResponse,
        SIP2Server,
    )

    holds = waiting_holds(url)
    server = SIP2Server(institution_id=ILS_INSTITUTION, login_required=True)

    @server.route(LOGIN)
    def login(req, ctx) -> LoginResponse:
        ok = (req.login_user_id, req.login_password) == (ILS_USER, ILS_PASSWORD)
        return LoginResponse(ok="1" if ok else "0")

    @server.route(PATRON_INFORMATION)
    def patron(req, ctx) -> PatronInformationResponse:
        items = tuple(holds.get(req.patron_identifier, ())) if req.summary[:1] == "Y" else ()
        return PatronInformationResponse(
            patron_status=" " * 14, language="000", transaction_date=ctx.now_18(),
            hold_items_count=f"{len(items):04d}", overdue_items_count="0000",
            charged_items_count="0000", fine_items_count="0000", recall_items_count="0000",
            unavailable_holds_count="0000", institution_id=ILS_INSTITUTION,
            patron_identifier=req.patron_identifier, personal_name="", valid_patron="Y",
            hold_items=items)

    async def main() -> None:
        async with server.start("127.0.0.1", 0) as port:
            print(port, flush=True)
            await anyio.sleep_forever()

    anyio.run(main)


def ils_section(port: int, folder: str) -> dict:
    """Return the `[ils]` section for holds mode against the benchmark's library system."""
    password = Path(folder) / "ils-password"
    password.write_text(ILS_PASSWORD + "\n")
    return {"kind": "sip2", "host": "127.0.0.1", "port": port, "user": ILS_USER,
            "password_file": str(password), "institution": ILS_INSTITUTION,
            "holds_from_ils": True, "checkout_on_collect": False, "timeout_s": 5}


def serve(url: str, orders: int, tty: str, ils: dict | None = None) -> None:
    """Run the station as `kiosk serve` does (waitress plus the scanner); print the port."""
    extra = {"scanner": {"kind": "serial", "port": tty, "terminator": "CR", "debounce_s": 0}}
    if ils:
        extra["ils"] = ils
    settings = settings_for(url, orders, extra)
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


def ils_state(port: int) -> dict:
    """Return the ILS link's entry of /healthz."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        return json.loads(conn.getresponse().read())["ils"]
    finally:
        conn.close()


def run(url: str, orders: int, scans: int, build: bool = True,
        ils: dict | None = None) -> dict[str, float]:
    """Serve the station over url in a process of its own; return latency figures in ms.

    This process plays the scanner (writing to the pty master) and the screen (an SSE
    client), as the hardware and the browser are outside the station's process. With
    ils, the station looks holds up in that library system on every scan.
    """
    started = time.perf_counter()
    cards = build_database(url, orders) if build else ready_cards(url, orders)
    built_s = time.perf_counter() - started
    master, slave = os.openpty()
    command = [sys.executable, __file__, "--serve", url, os.ttyname(slave),
               "--orders", str(orders)]
    if ils:
        command += ["--ils-section", json.dumps(ils)]
    station = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
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
        if ils and ils_state(port)["state"] != "connected":
            raise SystemExit(f"the ILS link is not up: {ils_state(port)}")
    finally:
        station.terminate()
        station.wait(10)
        os.close(master)
        os.close(slave)
    return {"orders": orders, "scans": scans, "build_s": built_s,
            "median_ms": statistics.median(latencies), "p99_ms": percentile(latencies, 0.99),
            "mean_ms": statistics.fmean(latencies), "max_ms": max(latencies),
            "load": os.getloadavg()[0]}


def run_holds(url: str, orders: int, scans: int, folder: str) -> dict[str, float]:
    """Run the scans again with holds looked up in a library system on loopback."""
    library = subprocess.Popen([sys.executable, __file__, "--ils", url],
                               stdout=subprocess.PIPE, text=True)
    try:
        port = int(library.stdout.readline())
        return run(url, orders, scans, build=False, ils=ils_section(port, folder))
    finally:
        library.terminate()
        library.wait(10)


def report(label: str, figures: dict[str, float]) -> None:
    """Print one run's figures."""
    print(f"{label}: median {figures['median_ms']:.2f} ms, "
          f"p99 {figures['p99_ms']:.2f} ms, mean {figures['mean_ms']:.2f} ms, "
          f"max {figures['max_ms']:.2f} ms  (load average {figures['load']:.1f} at the end)")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--scans", type=int, default=1_000)
    parser.add_argument("--db", help="reuse this database (SQLAlchemy URL) built by an earlier "
                        "run with --keep; the default builds a fresh one")
    parser.add_argument("--keep", help="build the database at this SQLite path and keep it")
    parser.add_argument("--holds", action="store_true",
                        help="also measure with holds looked up over SIP2 on every scan")
    parser.add_argument("--serve", nargs=2, metavar=("URL", "TTY"), help=argparse.SUPPRESS)
    parser.add_argument("--ils-section", help=argparse.SUPPRESS)
    parser.add_argument("--ils", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        ils = json.loads(args.ils_section) if args.ils_section else None
        serve(args.serve[0], args.orders, args.serve[1], ils)
        return 0
    if args.ils:
        serve_ils(args.ils)
        return 0
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as folder:
        url = args.db or f"sqlite:///{args.keep or Path(folder) / 'bench.db'}"
        figures = run(url, args.orders, args.scans, build=not args.db)
        holds = run_holds(url, args.orders, args.scans, folder) if args.holds else None
    print(f"{figures['orders']:,} orders (ready in {figures['build_s']:.1f} s), "
          f"{figures['scans']:,} scans on a pty, SSE client on /kiosk/events")
    report("scan to screen, local lookup", figures)
    print("  targets: median <= 5 ms, p99 <= 20 ms")
    if holds is not None:
        report("scan to screen, holds from the ILS (SIP2 63/64 on loopback)", holds)
    print(f"{os.cpu_count()} CPU(s)")
    ok = figures["median_ms"] <= 5 and figures["p99_ms"] <= 20
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
