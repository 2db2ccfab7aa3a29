"""Speech latency: does speech delay the scan's answer, and how soon is the audio ready?

Serves a station (SQLite, a few thousand orders) with waitress on a loopback port, once
with `[kiosk] speech = "off"` and once with "headphones". Each scan is posted as the
screen posts it, then its audio is fetched as speech.js fetches it
(`GET /kiosk/speech/scan/<event_id>.wav`), with a pause between scans as at a real
kiosk. Prints, per mode, the scan answer's p50/p95 and, with speech on, how long after
the answer the whole WAV has arrived (target: p95 <= 150 ms once the station's shared
sentences are cached; the first scans of a day synthesise those too, printed apart).

    python bench/speech_latency.py [--scans 60] [--orders 2000] [--pause 0.3]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=60)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--pause", type=float, default=0.3)
    args = parser.parse_args()
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
