"""Benchmark: reading one order file as CSV (UTF-8, Windows-1252), .xlsx and .ods.

Times `import_reader.read_orders` (decode or unpack, header, every row checked and
grouped: what the preview does before the database is asked) for the same rows in each
format, written by the test helpers (openpyxl, odfpy: `pip install '.[test]'`).

    nice python bench/import_files.py [--rows 20000] [--runs 3]

Not a test: it prints the best of --runs per format, and the file sizes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from sheet_files import ods, xlsx  # noqa: E402

from kiosk.domain.cards import CardReader  # noqa: E402
from kiosk.domain.import_reader import read_orders  # noqa: E402

HEADER = ["Lånekort", "Strekkode", "Tittel", "Referanse", "Filial"]


def rows(n: int) -> list[list[str]]:
    return [[f"N{i // 3:09d}", f"03{i:09d}", f"Blåbærsyltetøy bind {i}", f"r-{i // 3}", "main"]
            for i in range(n)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    body = rows(args.rows)
    text = "\r\n".join(";".join(r) for r in [HEADER, *body]) + "\r\n"
    files = {"csv (UTF-8, ;)": ("csv", b"\xef\xbb\xbf" + text.encode()),
             "csv (Windows-1252, ;)": ("csv", text.encode("cp1252")),
             "xlsx": ("xlsx", xlsx([HEADER, *body])),
             "ods": ("ods", ods([HEADER, *body]))}
    cards = CardReader([r"^N\d{9}$"])
    print(f"{args.rows} rows, {-(-args.rows // 3)} orders; best of {args.runs} runs")
    print(f"{'format':24} {'size':>10} {'read + check':>14}")
    for name, (fmt, data) in files.items():
        best = float("inf")
        for _ in range(args.runs):
            start = time.perf_counter()
            pv = read_orders(data, fmt, cards, "main")
            best = min(best, time.perf_counter() - start)
        assert pv.ok and pv.items == args.rows, pv.problems[:3]
        print(f"{name:24} {len(data) / 1024:>8.0f} KB {best * 1000:>11.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
