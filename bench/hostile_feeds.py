"""Hostile offer feeds: scan latency and memory of a station with each one, against a yardstick.

One run serves the same database (a few thousand orders) several times, each in a child
process: first with no offers at all (the yardstick), then each with one neighbour a careless
supplier or an attacker on the library's network could be:

- qr-overflow: a JSON feed whose item url is 1,900 "ø" (2,000 characters allowed, 3,800
  bytes), `after_pickup = true`, so every ready scan carries it;
- calendar-bomb: 617 bytes of iCalendar, a daily rule with every hour, minute and second,
  and a weekly event with a second RRULE line of FREQ=SECONDLY;
- calendar-400-series: 45 KB of iCalendar, 400 daily series since January (the expansion
  budget's worst honest case: some seconds of the refresher's CPU);
- slow-headers: a server that sends its status line and then a header byte every 0.5 s;
- redirects-and-pictures: a feed that redirects to ftp:// and other ports, and a feed whose
  pictures sit on a server that never answers.

For each station, once it answers `/healthz`, the bench scans cards with ready bags one after
another while the refresher meets its neighbour, and prints the scans' p50/p99, how many
`/kiosk/offers` answers were not 200, the child's resident memory when ready and at its peak
(VmHWM) and what it logged about its feed (goal: p99 <= 50 ms, RSS growth <= 100 MB).

    python bench/hostile_feeds.py [--orders 3000] [--scans 300] [--seconds 15] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import build_database, settings_for  # noqa: E402

TARGET_P99_MS = 50.0
TARGET_RSS_MB = 100.0
EVERY = {part: ",".join(str(n) for n in range(top))
         for part, top in (("BYHOUR", 24), ("BYMINUTE", 60), ("BYSECOND", 60))}
CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:bomb\r\nSUMMARY:Bombe\r\n"
    "DTSTART:20260101T000000Z\r\nURL:https://example.org/b\r\n"
    f"RRULE:FREQ=DAILY;BYHOUR={EVERY['BYHOUR']};BYMINUTE={EVERY['BYMINUTE']};"
    f"BYSECOND={EVERY['BYSECOND']}\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:second\r\nSUMMARY:Andre regel\r\nDTSTART:20260101T120000Z\r\n"
    "URL:https://example.org/s\r\nRRULE:FREQ=WEEKLY\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\n"
    "END:VCALENDAR\r\n")


class Neighbours:
    """The hostile servers, all on loopback: one HTTP server and one that trickles headers."""

    def __init__(self) -> None:
        routes: dict[str, tuple[int, str, bytes, dict[str, str]]] = {}
        self.routes = routes

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                status, ctype, body, headers = routes.get(self.path,
                                                          (404, "text/plain", b"", {}))
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.stop = threading.Event()
        self.slow = socket.create_server(("127.0.0.1", 0))
        threading.Thread(target=self._trickle_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    @property
    def slow_url(self) -> str:
        return f"http://127.0.0.1:{self.slow.getsockname()[1]}/feed.xml"

    def _trickle_forever(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.slow.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\n")
                header = b"X-Slow: a header sent one byte at a time\r\n" * 1000
                for byte in header:
                    if self.stop.wait(0.5):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return

    def serve(self, path: str, body: bytes, ctype: str, status: int = 200,
              headers: dict[str, str] | None = None) -> str:
        self.routes[path] = (status, ctype, body, headers or {})
        return self.url(path)

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.slow.close()


def cases(n: Neighbours) -> dict[str, list[dict]]:
    """Return each station's [[offers]]: none for the yardstick, one neighbour for the others."""
    long_url = "https://example.org/" + "ø" * 1900
    qr = n.serve("/offers.json", json.dumps([{"title": "For lang", "url": long_url}]).encode(),
                 "application/json")
    ics = n.serve("/events.ics", CALENDAR.encode(), "text/calendar")
    many = n.serve("/many.ics", (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n" + "".join(
            f"BEGIN:VEVENT\r\nUID:s{i}\r\nSUMMARY:Serie {i}\r\nDTSTART:20260101T100000Z\r\n"
            f"URL:https://example.org/{i}\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n"
            for i in range(400)) + "END:VCALENDAR\r\n").encode(), "text/calendar")
    for i, target in enumerate(("ftp://127.0.0.1/feed.xml", "http://127.0.0.1:9/feed.xml")):
        n.serve(f"/away{i}", b"", "text/plain", 302, {"Location": target})
    pictures = json.dumps([{"title": f"Bilde {i}", "url": f"https://example.org/{i}",
                            "image": n.slow_url.replace("feed.xml", f"{i}.png")}
                           for i in range(5)]).encode()
    return {
        "yardstick (no offers)": [],
        "qr-overflow": [{"kind": "ebooks", "feed": qr, "after_pickup": True}],
        "calendar-bomb": [{"kind": "event", "feed": ics, "refresh_minutes": 1}],
        "calendar-400-series": [{"kind": "event", "feed": many, "refresh_minutes": 1}],
        "slow-headers": [{"kind": "podcast", "feed": n.slow_url}],
        "redirects-and-pictures": [
            {"kind": "podcast", "feed": n.url("/away0")},
            {"kind": "podcast", "feed": n.url("/away1")},
            {"kind": "other", "feed": n.serve("/pictures.json", pictures, "application/json"),
             "after_pickup": True}],
    }


def serve(url: str, orders: int, offers_json: str) -> None:
    """Child: serve the station with these offers and their refresher; print the port."""
    from kiosk import create_app
    from kiosk.offers import runtime
    from kiosk.serving import make_server

    app = create_app(settings_for(url, orders, {"offers": json.loads(offers_json),
                                                "logging": {"level": "INFO"}}))
    server = make_server(app, "127.0.0.1", 0)
    runtime.start(app)
    print(server.effective_port, flush=True)
    server.run()


def memory_mb(pid: int) -> tuple[float, float]:
    """Return (resident, peak resident) MB of a process (Linux /proc)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def measure(url: str, orders: int, offers: list[dict], cards: list[str],
            scans: int, seconds: float, log_path: Path) -> dict:
    """Serve one station in a child, scan it for at least so many scans and seconds (the
    refresher meets its neighbour meanwhile), and return its figures."""
    log_file = log_path.open("w")
    child = subprocess.Popen(
        [sys.executable, __file__, "--serve", url, str(orders), json.dumps(offers)],
        stdout=subprocess.PIPE, stderr=log_file, text=True)
    try:
        port = int(child.stdout.readline())
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("GET", "/healthz")
        conn.getresponse().read()
        ready_mb, _ = memory_mb(child.pid)
        times, bad_offers, statuses = [], 0, set()
        until = time.monotonic() + seconds
        i = 0
        while i < scans or time.monotonic() < until:
            i += 1
            time.sleep(0.02)  # a kiosk's scans come one at a time, not back to back
            started = time.perf_counter()
            conn.request("POST", "/kiosk/scan", json.dumps({"code": cards[i % len(cards)]}),
                         {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            times.append((time.perf_counter() - started) * 1000)
            statuses.add(response.status)
            if i % 10 == 0:  # the idle screen asks for its offers now and then
                conn.request("GET", "/kiosk/offers")
                offers_answer = conn.getresponse()
                offers_answer.read()
                bad_offers += offers_answer.status != 200
        _, peak_mb = memory_mb(child.pid)
        conn.close()
    finally:
        child.terminate()
        child.communicate(timeout=30)
        log_file.close()
    said = [line for line in log_path.read_text().splitlines() if "offers" in line and
            ("WARNING" in line or "left out" in line or "ERROR" in line)]
    return {"p50": pct(times, .5), "p99": pct(times, .99), "statuses": sorted(statuses),
            "scans": len(times),
            "bad_offers": bad_offers, "ready_mb": ready_mb, "peak_mb": peak_mb,
            "said": said[:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=3000)
    parser.add_argument("--scans", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="scan at least this long (a feed fetch may take 10 s)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="these neighbours only (the yardstick always runs)")
    args = parser.parse_args()
    neighbours = Neighbours()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["STATE_DIRECTORY"] = tmp  # the offers cache of this run only
            url = f"sqlite:///{tmp}/bench.db"
            cards = build_database(url, args.orders)
            random.Random(26).shuffle(cards)
            results = {name: measure(url, args.orders, offers, cards, args.scans,
                                     args.seconds, Path(tmp) / f"{i}.log")
                       for i, (name, offers) in enumerate(cases(neighbours).items())
                       if args.only is None or name in args.only or name.startswith("yard")}
    finally:
        neighbours.close()
    yard = results["yardstick (no offers)"]
    print(f"Scans of cards with ready bags, 20 ms apart, for {args.seconds:.0f} s or "
          f"{args.scans} scans ({args.orders} orders, SQLite; goal p99 <= {TARGET_P99_MS:.0f} ms, "
          f"RSS growth <= {TARGET_RSS_MB:.0f} MB over the yardstick's)")
    for name, r in results.items():
        growth = r["peak_mb"] - yard["peak_mb"]
        verdict = ("met" if r["p99"] <= TARGET_P99_MS and growth <= TARGET_RSS_MB
                   and r["statuses"] == [200] and not r["bad_offers"] else "NOT met")
        print(f"  {name:24} {r['scans']} scans p50 {r['p50']:6.1f} ms  p99 {r['p99']:6.1f} ms  "
              f"status {r['statuses']}  /kiosk/offers not 200: {r['bad_offers']}  "
              f"RSS ready {r['ready_mb']:5.0f} MB peak {r['peak_mb']:5.0f} MB "
              f"(+{growth:4.0f})  {verdict}")
        for line in r["said"]:
            print(f"      log: {line[-160:]}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()
