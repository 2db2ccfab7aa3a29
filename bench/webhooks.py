"""What webhooks cost: a status change with and without its outbox row, and delivery rate.

Creates orders and cancels them in a fresh SQLite database (one transaction each, as a
staff action commits), once with no receiver and once with one `[[webhooks]]` entry;
then sends the outbox to an HTTP receiver on loopback and reports events per second.

Then the neighbour (issue 26): the station's delivery threads running (`kiosk serve`'s
runtime), a healthy receiver's latency from a committed change to its event arriving, p50
and p99, alone and with a second receiver that trickles its answer a byte at a time.

    python bench/webhooks.py [--orders 300] [--events 100]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from webhook_receiver import Trickler  # noqa: E402

from kiosk import create_app  # noqa: E402
from kiosk.config import parse  # noqa: E402
from kiosk.domain import orders as order_ops  # noqa: E402
from kiosk.extensions import db  # noqa: E402
from kiosk.schema import upgrade_database  # noqa: E402
from kiosk.webhooks import runtime  # noqa: E402

ACTOR = order_ops.Actor("bench", "Bench station")


class Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def changes(folder: Path, n: int, webhooks: list) -> tuple[float, object]:
    url = f"sqlite:///{folder / ('with.db' if webhooks else 'without.db')}"
    app = create_app(parse({"database": {"url": url}, "webhooks": webhooks,
                            "logging": {"level": "WARNING"}}))
    upgrade_database(app)
    with app.app_context():
        started = time.perf_counter()
        for i in range(n):
            new = order_ops.NewOrder(card=f"N{i:09d}", branch="main",
                                     items=(order_ops.NewItem(f"03{i:08d}"),))
            order = order_ops.create_order(db.session, new, ACTOR)
            db.session.commit()
            order_ops.cancel(db.session, order, ACTOR)
            db.session.commit()
        return (time.perf_counter() - started) / (2 * n), app


class Timed(BaseHTTPRequestHandler):
    """A healthy receiver noting when each event arrived (perf_counter, by order id)."""

    protocol_version = "HTTP/1.0"
    arrived: dict[int, float] = {}
    ready = threading.Condition()

    def do_POST(self) -> None:
        import json

        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with Timed.ready:
            Timed.arrived[body["data"]["order_id"]] = time.perf_counter()
            Timed.ready.notify_all()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def neighbour(folder: Path, secret: Path, events: int, trickler: Trickler | None,
              healthy_url: str) -> list[float]:
    """Return the healthy receiver's latencies (s) for events changes, one at a time."""
    name = "trickled" if trickler else "alone"
    hooks = [{"url": healthy_url, "secret_file": str(secret), "events": ["order.received"],
              "timeout_s": 5}]
    if trickler is not None:  # first in the list: its events get the lower ids
        hooks.insert(0, {"url": trickler.url, "secret_file": str(secret),
                         "events": ["order.received"], "timeout_s": 30})
    app = create_app(parse({"database": {"url": f"sqlite:///{folder / name}.db"},
                            "webhooks": hooks, "logging": {"level": "ERROR"}}))
    upgrade_database(app)
    app.config["KIOSK_WEBHOOK_POLL_S"] = 0.01
    Timed.arrived = {}
    stop = runtime.start(app)
    latencies = []
    try:
        with app.app_context():
            for i in range(events):
                new = order_ops.NewOrder(card=f"N{i:09d}", branch="main",
                                         items=(order_ops.NewItem(f"04{i:08d}"),))
                order = order_ops.create_order(db.session, new, ACTOR)
                db.session.commit()
                committed, oid = time.perf_counter(), order.id
                with Timed.ready:
                    if not Timed.ready.wait_for(lambda o=oid: o in Timed.arrived, 60):
                        raise SystemExit(f"event {i} not delivered in 60 s ({name})")
                    latencies.append(Timed.arrived[oid] - committed)
    finally:
        if trickler is not None:
            trickler.stop.set()
        stop()
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--events", type=int, default=100)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        secret = folder / "secret"
        secret.write_text("whsec_" + base64.b64encode(b"b" * 32).decode())
        hook = [{"url": f"http://127.0.0.1:{server.server_address[1]}/h",
                 "secret_file": str(secret)}]
        without, _ = changes(folder, args.orders, [])
        with_hook, app = changes(folder, args.orders, hook)
        print(f"status change + commit, no receiver:   {without * 1000:.2f} ms")
        print(f"status change + commit, one receiver:  {with_hook * 1000:.2f} ms "
              f"(+{(with_hook - without) * 1000:.2f} ms for the outbox row)")
        started = time.perf_counter()
        sent = runtime.deliverer(app).deliver_due(limit=10 * args.orders)
        took = time.perf_counter() - started
        print(f"delivered {sent} events in {took:.2f} s: {sent / took:.0f} events/s "
              "(signed, one at a time, loopback receiver)")
        timed = ThreadingHTTPServer(("127.0.0.1", 0), Timed)
        timed.daemon_threads = True
        Thread(target=timed.serve_forever, daemon=True).start()
        healthy = f"http://127.0.0.1:{timed.server_address[1]}/h"
        alone = neighbour(folder, secret, args.events, None, healthy)
        with Trickler(pace_s=0.5) as trickler:
            trickled = neighbour(folder, secret, args.events, trickler, healthy)
            held = trickler.requests
        print(f"healthy receiver, change committed to event received ({args.events} events, "
              "delivery threads polling every 10 ms):")
        for label, values in (("alone", alone), ("with a trickling receiver", trickled)):
            print(f"  {label:28} p50 {statistics.median(values) * 1000:6.1f} ms   "
                  f"p99 {percentile(values, 99) * 1000:6.1f} ms   "
                  f"max {max(values) * 1000:6.1f} ms")
        print(f"  (the trickling receiver got {held} request(s) in that time: each attempt "
              "held to its 30 s deadline, a byte every 0.5 s)")
        timed.shutdown()
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
