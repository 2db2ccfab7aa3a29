"""Login flood: scans keep their pace while threads hammer the login endpoints.

The station runs in a process of its own (waitress on loopback over a SQLite data set,
`bench/dataset.py`). `--threads` flood threads (20) post `/staff/login` with made-up
names (each first fetches the page for its CSRF token), while one client scans
(`POST /kiosk/scan`, a card with ready orders, one after another) for `--seconds` (30).
Printed: scan p50/p99/max, scans failed, login answers by status, and the server's
resident memory (VmRSS) before, at its peak and at the end.

    python bench/login_flood.py [--seconds 30] [--threads 20] [--orders 10000]
                                [--path /staff/login|/staff/card-login] [--limits off]
                                [--src DIR] [--attacker-nice 10]

`--limits off` sets `[kiosk] rate_limit = "off"` (no Flask-Limiter limits at all), so every
attempt reaches the account throttle and the bound on hashes at once. `--src DIR` serves
the station from another checkout (for a before/after comparison). The flood runs in a
process of its own; `--attacker-nice 10` keeps its CPU out of the way (on a real network
the attacker is another machine; here it shares the station's two CPUs).

Targets: scan p99 ≤ 50 ms, memory growth ≤ 100 MB.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import build_database, settings_for  # noqa: E402

TARGET_P99_MS, TARGET_GROWTH_MB = 50.0, 100.0


def serve(url: str, orders: int, limits: bool) -> None:
    """Serve the station over url on a free loopback port; print the port when ready."""
    from kiosk import create_app
    from kiosk.serving import make_server

    rate = "1000000/minute" if limits else "off"  # scans unlimited; logins as configured
    extra = {"kiosk": {"rate_limit": rate, "staff_pin": True}}
    app = create_app(settings_for(url, orders, extra))
    server = make_server(app, "127.0.0.1", 0)
    print(server.effective_port, flush=True)
    server.run()


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def flood(port: int, path: str, stop: threading.Event, answers: Counter, n: int) -> None:
    """Post logins with made-up names until stop (a new connection after each refusal)."""
    k = 0
    while not stop.is_set():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            if path == "/staff/login":
                conn.request("GET", "/staff/login")
                page = conn.getresponse()
                cookie = page.getheader("Set-Cookie", "").split(";")[0]
                token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"',
                                  page.read()).group(1).decode()
                while not stop.is_set():
                    k += 1
                    body = f"csrf_token={token}&username=made-up-{n}-{k}&password=guess-{k}"
                    conn.request("POST", "/staff/login", body=body, headers={
                        "Content-Type": "application/x-www-form-urlencoded",
                        "Cookie": cookie})
                    response = conn.getresponse()
                    response.read()
                    answers[response.status] += 1
            else:
                while not stop.is_set():
                    k += 1
                    conn.request("POST", path, body=json.dumps(
                        {"card": f"S{n}-{k}", "pin": "1234"}),
                        headers={"Content-Type": "application/json"})
                    response = conn.getresponse()
                    response.read()
                    answers[response.status] += 1
        except (OSError, http.client.HTTPException, AttributeError):
            answers["connection error"] += 1
        finally:
            conn.close()


def scan_loop(port: int, cards: list[str], stop: threading.Event,
              times: list[float], failed: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = 0
    while not stop.is_set():
        body = json.dumps({"code": cards[i % len(cards)]})
        i += 1
        started = time.perf_counter()
        try:
            conn.request("POST", "/kiosk/scan", body=body,
                         headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            failed.append(repr(exc))
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        times.append((time.perf_counter() - started) * 1000)
        if response.status != 200 or b'"outcome"' not in data:
            failed.append(f"HTTP {response.status}")
        time.sleep(0.01)  # a screen's pace, not a load generator's
    conn.close()


def percentiles(times: list[float]) -> tuple[float, float, float]:
    times = sorted(times)
    return (statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))],
            times[-1])


def run(port: int, pid: int, cards: list[str], args) -> int:
    stop = threading.Event()
    alone: list[float] = []
    scan_loop_thread = threading.Thread(target=scan_loop, args=(port, cards, stop, alone, []))
    scan_loop_thread.start()
    time.sleep(10)  # the same scans without a flood: the machine's own figures
    stop.set()
    scan_loop_thread.join()
    before = rss_mb(pid)
    stop = threading.Event()
    times: list[float] = []
    failed: list[str] = []
    answers: Counter = Counter()
    peak = [before]

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb(pid))
            time.sleep(0.1)

    # The attacker is a process of its own (on a real network: another machine), niced
    # with --attacker-nice so that its own CPU does not count as the station's slowness.
    attacker = subprocess.Popen(
        [sys.executable, __file__, "--flood", str(port), "--threads", str(args.threads),
         "--seconds", str(args.seconds), "--path", args.path],
        stdout=subprocess.PIPE, text=True,
        preexec_fn=(lambda: os.nice(args.attacker_nice)) if args.attacker_nice else None)
    threads = [threading.Thread(target=scan_loop, args=(port, cards, stop, times, failed)),
               threading.Thread(target=sample)]
    for t in threads:
        t.start()
    answers.update(json.loads(attacker.communicate(timeout=args.seconds + 120)[0]))
    stop.set()
    for t in threads:
        t.join(timeout=60)
    after = rss_mb(pid)
    p50, p99, top = percentiles(times)
    growth = peak[0] - before
    print(f"flood: {args.threads} threads on {args.path} for {args.seconds:.0f} s, "
          f"limits {'on' if args.limits != 'off' else 'off'}, attacker nice "
          f"{args.attacker_nice}; load average {os.getloadavg()[0]:.1f}")
    print(f"login answers: {dict(sorted(answers.items(), key=str))}")
    print("scans alone (10 s): p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms".format(
        *percentiles(alone)))
    print(f"scans in the flood: {len(times)}, failed {len(failed)}; p50 {p50:.1f} ms, "
          f"p99 {p99:.1f} ms, max {top:.1f} ms")
    print(f"server RSS: before {before:.0f} MB, peak {peak[0]:.0f} MB (+{growth:.0f}), "
          f"end {after:.0f} MB")
    ok = p99 <= TARGET_P99_MS and growth <= TARGET_GROWTH_MB and not failed
    print(f"targets p99 ≤ {TARGET_P99_MS:.0f} ms, growth ≤ {TARGET_GROWTH_MB:.0f} MB, "
          f"no scan failed: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


def run_flood(port: int, threads: int, seconds: float, path: str) -> None:
    """The attacker's process: flood for seconds, print the answers' statuses as JSON."""
    stop = threading.Event()
    answers: Counter = Counter()
    workers = [threading.Thread(target=flood, args=(port, path, stop, answers, n))
               for n in range(threads)]
    for t in workers:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in workers:
        t.join(timeout=60)
    print(json.dumps({str(k): v for k, v in answers.items()}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--path", default="/staff/login",
                        choices=["/staff/login", "/staff/card-login"])
    parser.add_argument("--limits", default="on", choices=["on", "off"])
    parser.add_argument("--src", help="serve the station from this checkout")
    parser.add_argument("--attacker-nice", type=int, default=0,
                        help="run the flood at this nice level (it stands for another machine)")
    parser.add_argument("--flood", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--serve", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.src and os.environ.get("PYTHONPATH") != args.src:  # all of it from that checkout
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  {**os.environ, "PYTHONPATH": args.src})
    if args.flood:
        run_flood(args.flood, args.threads, args.seconds, args.path)
        return 0
    if args.serve:
        serve(args.serve, args.orders, args.limits == "on")
        return 0
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        cards = build_database(url, args.orders)
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", url, "--orders", str(args.orders),
             "--limits", args.limits],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            port = int(child.stdout.readline())
            return run(port, child.pid, cards, args)
        finally:
            child.terminate()
            child.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
