"""How long the offers refresher spends turning each test fixture feed into offers.

    .venv/bin/python bench/offer_feeds.py [ROUNDS]

Prints the median time per parse of every feed in tests/fixtures/offers (RSS, Atom and
iCalendar as Google Calendar and Outlook export them), and for the Outlook calendar also
without moving its 1601 time-zone onsets to 1970 (see kiosk/offers/ical.py).
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.offers import feeds, ical
from kiosk.offers.sources import Offer

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "offers"
NOW = dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC)
BASE = Offer(kind="event", title="", text="", url="https://example.org/")


def median_s(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(rounds: int = 5) -> None:
    for path in sorted(FIXTURES.iterdir()):
        data = path.read_bytes()
        took = median_s(lambda d=data: feeds.parse_feed(d, "auto", BASE, now=NOW), rounds)
        print(f"{path.name:24} {len(data):6d} bytes  {took * 1000:8.1f} ms")
    data = (FIXTURES / "outlook.ics").read_bytes()
    rebase, ical._recent_onsets = ical._recent_onsets, lambda d: d
    try:
        # a TZID of its own, or icalendar would reuse the zone it built a moment ago
        own = data.replace(b"W. Europe Standard Time", b"Bench zone")
        took = median_s(lambda: ical.upcoming(own, NOW), 1)
        print(f"{'outlook.ics, 1601 onsets':24} {len(data):6d} bytes  {took * 1000:8.1f} ms")
    finally:
        ical._recent_onsets = rebase


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
