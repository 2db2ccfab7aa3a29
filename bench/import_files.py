"""Benchmark: reading one order file as CSV (UTF-8, Windows-1252), .xlsx and .ods.

Times `import_reader.read_orders` (decode or unpack, header, every row checked and
grouped: what the preview does before the database is asked) for the same rows in each
format, written by the test helpers (openpyxl, odfpy: `pip install '.[test]'`).

    nice python bench/import_files.py [--rows 20000] [--runs 3] [--hostile]

Not a test: it prints the best of --runs per format, and the file sizes.

--hostile (issue 26): files that say they are large, and the largest a preview reads,
each read by a fresh child process that reports its wall time and peak RSS: the 835-byte
.ods whose row repeats a million times, a million-row .xlsx, a value in the last cell,
100,000 real rows as .xlsx and .ods, and text just under the limit repeated 100,000 times.
Goal: peak RSS of the preview ≤ 250 MB for any file under the upload limit.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import hostile_sheets  # noqa: E402
from sheet_files import ods, xlsx  # noqa: E402

from kiosk.domain.cards import CardReader  # noqa: E402
from kiosk.domain.import_reader import read_orders  # noqa: E402

HEADER = ["Lånekort", "Strekkode", "Tittel", "Referanse", "Filial"]


def rows(n: int) -> list[list[str]]:
    return [[f"N{i // 3:09d}", f"03{i:09d}", f"Blåbærsyltetøy bind {i}", f"r-{i // 3}", "main"]
            for i in range(n)]


def peak_mb() -> int:
    """Return this process's peak RSS in MB (VmHWM: unlike ru_maxrss, not carried over
    from the parent across fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def child(path: str) -> int:
    """Read one file as the preview does; print seconds, RSS before and peak, problems."""
    from kiosk.domain.import_files import detect_format

    data = Path(path).read_bytes()
    before = peak_mb()
    start = time.perf_counter()
    pv = read_orders(data, detect_format(data, path), CardReader([r"^N\d{9}$"]), "main")
    print(json.dumps({"s": time.perf_counter() - start, "before": before, "peak": peak_mb(),
                      "orders": len(pv.drafts), "problems": pv.problem_count,
                      "first": pv.problems[0].text[:70] if pv.problems else ""}))
    return 0


def hostile() -> None:
    header = ["card", "item_barcode", "title", "order_ref", "branch"]
    real = [header, *rows(100_000)]
    just_under = [header[:5], *[["ø" * 16] * 5]]
    cases = {
        "ods, 1 row repeated 1,000,000 times": ("ods", hostile_sheets.repeated_ods()),
        "xlsx, 1,000,000 rows": ("xlsx", hostile_sheets.long_xlsx()),
        "xlsx, a value in cell XFD1048576": ("xlsx", hostile_sheets.far_xlsx()),
        "xlsx, 100,000 real rows": ("xlsx", hostile_sheets.plain_xlsx(real)),
        "ods, 100,000 real rows": ("ods", hostile_sheets.plain_ods(real)),
        "ods, 16 MiB of text (just under)": ("ods", hostile_sheets.ods_from_rows_xml(
            hostile_sheets.ods_row(*just_under[0])
            + hostile_sheets.ods_row(*just_under[1], repeated=100_000))),
    }
    print(f"\n{'file (read by a fresh process)':38} {'size':>9} {'time':>8} "
          f"{'RSS before':>11} {'peak RSS':>9}  outcome")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (fmt, data) in cases.items():
            path = Path(tmp) / f"case.{fmt}"
            path.write_bytes(data)
            out = subprocess.run([sys.executable, __file__, "--child", str(path)],
                                 capture_output=True, text=True, timeout=600)
            if out.returncode:
                print(f"{name:38} failed: {out.stderr.strip()[-300:]}")
                continue
            r = json.loads(out.stdout)
            outcome = (f"{r['orders']} orders, no problems" if not r["problems"] else
                       f"{r['problems']} problem(s): {r['first']}")
            print(f"{name:38} {len(data) / 1024:>6.0f} KB {r['s']:>7.2f}s {r['before']:>8} MB "
                  f"{r['peak']:>6} MB  {outcome}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hostile", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    if args.hostile:
        hostile()
        return 0
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
