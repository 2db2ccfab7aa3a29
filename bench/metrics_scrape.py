"""How long a scrape of /metrics takes on a large database (100,000 orders by default).

    python bench/metrics_scrape.py [--orders 100000] [--db /tmp/bench.db] [--scrapes 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import build_database, settings_for  # noqa: E402

from kiosk import create_app  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--db", help="an SQLite file to build once and reuse")
    parser.add_argument("--scrapes", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.db or Path(tmp) / "bench.db")
        url = f"sqlite:///{path}"
        if not path.exists():
            build_database(url, args.orders)
        app = create_app(settings_for(url, args.orders, {"logging": {"level": "WARNING"}}))
        client = app.test_client()
        client.get("/metrics")  # warm up: connection, caches
        took = []
        for _ in range(args.scrapes):
            started = time.perf_counter()
            response = client.get("/metrics")
            took.append(time.perf_counter() - started)
            assert response.status_code == 200
        print(f"/metrics on {args.orders} orders: median {statistics.median(took) * 1000:.1f} ms, "
              f"max {max(took) * 1000:.1f} ms over {args.scrapes} scrapes, "
              f"{len(response.data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
