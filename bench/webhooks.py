"""What webhooks cost: a status change with and without its outbox row, and delivery rate.

Creates orders and cancels them in a fresh SQLite database (one transaction each, as a
staff action commits), once with no receiver and once with one `[[webhooks]]` entry;
then sends the outbox to an HTTP receiver on loopback and reports events per second.

    python bench/webhooks.py [--orders 300]
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
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
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
