"""How long the offers refresher spends turning each test fixture feed into offers.

    .venv/bin/python bench/offer_feeds.py [ROUNDS]

Prints the median time per parse of every feed in tests/fixtures/offers (RSS, Atom and
iCalendar as Google Calendar and Outlook export them), and for the Outlook calendar also
without moving its 1601 time-zone onsets to 1970 (see kiosk/offers/ical.py); then the
hostile calendars of issue 26 (a 617-byte rule of every second, a second RRULE line of
FREQ=SECONDLY, 400 daily series) with the peak memory Python allocated for each
(kiosk/offers/expansion.py bounds them).
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import time
import tracemalloc
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


def _calendar(*events: str) -> bytes:
    body = "".join(f"BEGIN:VEVENT\r\n{e}\r\nEND:VEVENT\r\n" for e in events)
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{body}END:VCALENDAR\r\n".encode()


EVERY = "FREQ=DAILY;" + ";".join(
    f"{part}={','.join(str(n) for n in range(top))}"
    for part, top in (("BYHOUR", 24), ("BYMINUTE", 60), ("BYSECOND", 60)))
HOSTILE = {
    "every second, daily rule": _calendar(f"UID:a\r\nSUMMARY:A\r\nDTSTART:20260101T000000Z\r\n"
                                      f"URL:https://e.org/\r\nRRULE:{EVERY}"),
    "2nd RRULE SECONDLY": _calendar("UID:b\r\nSUMMARY:B\r\nDTSTART:20260101T120000Z\r\n"
                                    "URL:https://e.org/\r\nRRULE:FREQ=WEEKLY\r\n"
                                    "RRULE:FREQ=SECONDLY"),
    "400 daily series": _calendar(*(f"UID:s{i}\r\nSUMMARY:S{i}\r\nDTSTART:20260101T1000"
                                    f"00Z\r\nURL:https://e.org/\r\nRRULE:FREQ=DAILY"
                                    for i in range(400))),
}


def hostile() -> None:
    for name, data in HOSTILE.items():
        start = time.perf_counter()
        _found, total = ical.upcoming(data, NOW)
        took = time.perf_counter() - start
        tracemalloc.start()  # a second run: tracing slows allocation-heavy code tenfold
        ical.upcoming(data, NOW)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"{name:24} {len(data):6d} bytes  {took * 1000:8.1f} ms  peak {peak / 1e6:6.1f} MB"
              f"  {total} events shown")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
    hostile()
