"""Speech latency: does speech delay the scan's answer, and how soon is the audio ready?

Serves a station (SQLite, a few thousand orders) with waitress on a loopback port, once
with `[kiosk] speech = "off"` and once with "headphones". Each scan is posted as the
screen posts it, then its audio is fetched as speech.js fetches it
(`GET /kiosk/speech/scan/<event_id>.wav`), with a pause between scans as at a real
kiosk. Prints, per mode, the scan answer's p50/p95 and, with speech on, how long after
the answer the whole WAV has arrived (target: p95 <= 150 ms once the station's shared
sentences are cached; the first scans of a day synthesise those too, printed apart).

With --hostile it measures instead a neighbour that makes speech heavy: a ready order of
200 items with 200-character titles (within the API's limits). One scan of that card: how
long its audio takes and how big it is; then 20 such scans whose audio is all asked for at
once (as 20 screens, or a script, would) while ordinary cards are scanned: their p50/p99
against the same scans with speech idle (goal p99 <= 50 ms), the audio answers' statuses,
and the process's RSS growth (goal <= 100 MB).

    python bench/speech_latency.py [--scans 60] [--orders 2000] [--pause 0.3] [--hostile]
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dataset import build_database, settings_for  # noqa: E402

TARGET_MS = 150.0
LANGS = ("nb", "nn", "en")


def p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run(url: str, orders: int, speech: str, cards: list[str], pause: float,
        warm: int) -> tuple[list[float], list[float], list[float]]:
    """Return (answer ms, audio-after-answer ms of the first `warm` scans, of the rest)."""
    from kiosk import create_app
    from kiosk.serving import make_server, stop_server

    app = create_app(settings_for(url, orders, {"kiosk": {"speech": speech,
                                                          "rate_limit": "off"},
                                                "logging": {"level": "WARNING"}}))
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    warming = getattr(app.extensions.get("speech"), "warming", None)
    if warming is not None:  # `kiosk serve` does this at start, before any patron comes
        started = time.perf_counter()
        n = warming.result()
        print(f"  warm-up: {n} shared sentences in {time.perf_counter() - started:.1f} s")
    conn = http.client.HTTPConnection("127.0.0.1", server.effective_port, timeout=30)
    cookies = {}
    for lang in LANGS:  # each screen language has its session, as a screen has
        conn.request("GET", f"/?lang={lang}")
        response = conn.getresponse()
        response.read()
        cookies[lang] = response.getheader("Set-Cookie", "").split(";")[0]
    answers, cold, warm_ms = [], [], []
    try:
        for i, card in enumerate(cards):
            body = json.dumps({"code": card})
            lang = LANGS[i % len(LANGS)]
            started = time.perf_counter()
            conn.request("POST", "/kiosk/scan", body, {"Content-Type": "application/json",
                                                       "Cookie": cookies[lang]})
            response = conn.getresponse()
            data = json.loads(response.read())
            answered = time.perf_counter()
            answers.append((answered - started) * 1000)
            if speech != "off":
                conn.request("GET", f"/kiosk/speech/scan/{data['event_id']}.wav?lang={lang}")
                audio = conn.getresponse()
                wav = audio.read()
                assert audio.status == 200 and wav[:4] == b"RIFF", audio.status
                (cold if i < warm else warm_ms).append((time.perf_counter() - answered) * 1000)
            time.sleep(pause)
    finally:
        conn.close()
        stop_server(app, server)
        thread.join(timeout=5)
    return answers, cold, warm_ms


def rss_mb() -> tuple[float, float]:
    """Return (resident, peak resident) MB of this process (Linux /proc)."""
    fields = dict(line.split(":", 1) for line in
                  Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return (int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024)


def _call(port: int, method: str, path: str, body: object = None,
          headers: dict | None = None) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None,
                     {"Content-Type": "application/json", **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        conn.close()


def _big_order(port: int, token: str, card: str) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    items = [{"barcode": f"0399{i:06d}", "title": f"Tittel {i}: " + "lang tittel " * 16}
             for i in range(200)]
    status, body, _h = _call(port, "POST", "/api/v1/orders",
                             {"ref": "big-1", "card": card, "items": items}, auth)
    assert status == 201, body
    order = json.loads(body)["id"]
    for n in range(1, 101):  # the first slot with room
        status, body, _h = _call(port, "POST", f"/api/v1/orders/{order}/shelve",
                                 {"slot": f"S1-{n:02d}"}, auth)
        if status == 200:
            return
    raise RuntimeError(f"no slot for the big order: {body!r}")


def _scan(port: int, card: str) -> tuple[float, dict]:
    started = time.perf_counter()
    status, body, _h = _call(port, "POST", "/kiosk/scan", {"code": card})
    assert status == 200, body
    return (time.perf_counter() - started) * 1000, json.loads(body)


def hostile(url: str, orders: int, cards: list[str], tmp: str) -> None:
    """Measure the big order's audio, then scans while 20 of its audios are asked at once."""
    from kiosk import create_app
    from kiosk.serving import make_server, stop_server

    token = "bench-token-" + "x" * 40
    Path(tmp, "tokens").write_text(token + "\n")
    app = create_app(settings_for(url, orders, {
        "kiosk": {"speech": "headphones", "rate_limit": "off"},
        "api": {"tokens_file": str(Path(tmp, "tokens"))}, "logging": {"level": "WARNING"}}))
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    port = server.effective_port
    try:
        warming = app.extensions["speech"].warming
        if warming is not None:
            warming.result()
        big = "N199999999"
        _big_order(port, token, big)
        base_rss, _peak = rss_mb()
        quiet = [_scan(port, c)[0] for c in cards[:40]]
        while app.extensions["speech"]._pending:  # their audio made, as between patrons
            time.sleep(0.05)
        _ms, answer = _scan(port, big)
        started = time.perf_counter()
        status, wav, _h = _call(port, "GET", f"/kiosk/speech/scan/{answer['event_id']}.wav?lang=nb")
        took = time.perf_counter() - started
        seconds = (len(wav) - 44) / 2 / 22050 if status == 200 else 0.0
        if status != 200:
            print(f"audio answer {status}: {wav[:200]!r}")
        print(f"one scan of the 200-item order: audio {status}, {len(wav) / 1e6:.2f} MB, "
              f"{seconds:.1f} s of speech, ready {took:.2f} s after the answer")
        base_rss, _peak = rss_mb()
        events = [_scan(port, big)[1]["event_id"] for _ in range(20)]
        results: list[tuple[int, float]] = []

        def fetch(event: str) -> None:
            t0 = time.perf_counter()
            got = _call(port, "GET", f"/kiosk/speech/scan/{event}.wav?lang=nb")
            results.append((got[0], time.perf_counter() - t0))

        flood = [threading.Thread(target=fetch, args=(e,)) for e in events]
        for t in flood:
            t.start()
        busy = [_scan(port, c)[0] for c in cards[40:80]]
        for t in flood:
            t.join()
        _rss, peak = rss_mb()
        statuses = {s: sum(1 for x, _t in results if x == s) for s, _t in results}
        slowest = max(t for _s, t in results)
        verdict = "met" if p(busy, .99) <= 50 and peak - base_rss <= 100 else "NOT met"
        print(f"20 audio requests at once: statuses {statuses}, the slowest answered after "
              f"{slowest:.2f} s")
        for name, times in (("speech idle", quiet), ("20 audios asked", busy)):
            print(f"scans, {name + ':':17} p50 {p(times, .5):6.1f} ms  "
                  f"p99 {p(times, .99):6.1f} ms")
        print(f"RSS {base_rss:.0f} MB before, peak {peak:.0f} MB (+{peak - base_rss:.0f} MB); "
              f"goal p99 <= 50 ms, growth <= 100 MB: {verdict}")
    finally:
        stop_server(app, server)
        thread.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=60)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--pause", type=float, default=0.3)
    parser.add_argument("--hostile", action="store_true",
                        help="a 200-item order and 20 audio requests at once (see above)")
    args = parser.parse_args()
    if args.hostile:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            hostile(url, args.orders, build_database(url, args.orders), tmp)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        ready = build_database(url, args.orders)
        rng = random.Random(16)
        cards = [rng.choice(ready) if i % 3 else f"N9{i:08d}" for i in range(args.scans)]
        warm = len(LANGS) * 3  # every language meets ready and nothing a few times first
        off, _c, _w = run(url, args.orders, "off", cards, args.pause, warm)
        on, cold, after = run(url, args.orders, "headphones", cards, args.pause, warm)
    print(f"{args.scans} scans ({args.orders} orders, 2 of 3 cards with bags, "
          f"languages {', '.join(LANGS)} in turn, {args.pause:.1f} s apart)")
    print(f"scan answer, speech off:  p50 {p(off, .5):6.1f} ms  p95 {p(off, .95):6.1f} ms")
    print(f"scan answer, speech on:   p50 {p(on, .5):6.1f} ms  p95 {p(on, .95):6.1f} ms")
    print(f"audio after answer, first {len(cold)} scans (cold cache): "
          f"p50 {p(cold, .5):6.1f} ms  p95 {p(cold, .95):6.1f} ms")
    verdict = "met" if p(after, .95) <= TARGET_MS else "NOT met"
    print(f"audio after answer, next {len(after)} scans:  p50 {p(after, .5):6.1f} ms  "
          f"p95 {p(after, .95):6.1f} ms  (target p95 <= {TARGET_MS:.0f} ms: {verdict})")


if __name__ == "__main__":
    main()
