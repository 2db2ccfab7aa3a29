"""Benchmark: `kiosk serve` from start to READY=1 over 100,000 orders, and its idle memory.

Starts `kiosk serve` as systemd would (a `NOTIFY_SOCKET` this process listens on) over
the `bench/dataset.py` data set, times the start until READY=1 arrives, waits a few
seconds idle and reads the server's resident memory (VmRSS). Runs --runs times.

    nice python bench/serve_start.py [--orders 100000] [--db /tmp/kiosk-bench-pages.db]

Goals (2 cores): READY=1 within 2 s, idle RSS at most 80 MB.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import build_database, shelves_for  # noqa: E402
from sqlalchemy import create_engine, func, select  # noqa: E402

from kiosk.models import Order  # noqa: E402

KIOSK = [sys.executable, "-c", "import sys; from kiosk.cli import main; sys.exit(main())"]


def _config(path: Path, url: str, orders: int) -> None:
    shelves = "".join(f'[[shelves]]\nname = "{s["name"]}"\nslots = {s["slots"]}\n'
                      f'capacity = {s["capacity"]}\n' for s in shelves_for(orders))
    path.write_text(f'[station]\nname = "Bench"\nbranch = "main"\n[database]\nurl = "{url}"\n'
                    f'[logging]\nlevel = "WARNING"\n{shelves}')


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_s(pid: int) -> float:
    """Return the CPU time (user + system) a process has used, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_start(config: Path, idle_s: float) -> tuple[float, float, float]:
    """Return (seconds to READY=1, idle RSS in MB, CPU seconds to READY) of a `kiosk serve`."""
    with tempfile.TemporaryDirectory() as tmp:
        address = f"{tmp}/notify"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(address)
        sock.settimeout(0.5)
        env = {**os.environ, "NOTIFY_SOCKET": address}
        t0 = time.perf_counter()
        proc = subprocess.Popen([*KIOSK, "--config", str(config), "serve", "--port",
                                 str(_free_port())],
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            while True:
                try:
                    message = sock.recv(4096).decode()
                except TimeoutError:
                    if proc.poll() is not None:
                        sys.exit(f"kiosk serve ended: {proc.stderr.read().decode()[-2000:]}")
                    continue
                if "READY=1" in message:
                    ready = time.perf_counter() - t0
                    cpu = _cpu_s(proc.pid)
                    break
            time.sleep(idle_s)
            rss = _rss_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            sock.close()
    return ready, rss, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--db", default="/tmp/kiosk-bench-pages.db")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before RSS")
    args = parser.parse_args()
    url = f"sqlite:///{args.db}"
    engine = create_engine(url)
    try:
        have = engine.connect().scalar(select(func.count(Order.id)))
    except Exception:  # noqa: BLE001  (no database yet)
        have = 0
    engine.dispose()
    if have < args.orders:
        build_database(url, args.orders)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "kiosk.toml"
        _config(config, url, args.orders)
        results = [one_start(config, args.idle) for _ in range(args.runs)]
    ready = [r for r, _, _ in results]
    rss = [m for _, m, _ in results]
    cpu = [c for _, _, c in results]
    # On a shared machine the wall time waits for a core; the CPU time does not.
    print(f"kiosk serve over {args.orders} orders, {args.runs} starts: READY=1 after "
          f"median {statistics.median(ready):.2f} s (worst {max(ready):.2f} s), "
          f"{statistics.median(cpu):.2f} s of CPU; idle RSS median "
          f"{statistics.median(rss):.0f} MB (worst {max(rss):.0f} MB); "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
