"""Crash safety: kill -9 a large `kiosk import` at random moments; the database survives.

After every kill the SQLite database must pass `PRAGMA integrity_check` and hold either
the whole import or none of it. Half the kills land at a random point of the process's
own CPU time (so machine load does not skew where they fall), the other half the moment
the write-ahead log passes a random size, which is while the commit is being written.
"""

from __future__ import annotations

import csv
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

ORDERS = 300  # two items each
KILLS = 10
KIOSK = [sys.executable, "-c", "import sys; from kiosk.cli import main; sys.exit(main())"]

pytestmark = [pytest.mark.sqlite_only, pytest.mark.slow]


def write_orders(path: Path) -> None:
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["card", "item_barcode", "title", "order_ref"])
        for n in range(ORDERS):
            for i in range(2):
                out.writerow([f"N{n:09d}", f"03{n:07d}{i}", f"Bok {n}.{i}", f"CRASH-{n:05d}"])


def cpu_ticks(pid: int) -> int:
    """Return the user + system CPU time of a process, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wal_size(db: Path) -> int:
    try:
        return os.stat(f"{db}-wal").st_size
    except FileNotFoundError:
        return 0


def run_import(db: Path, csv_path: Path, config: Path, cpu_at: int | None = None,
               wal_at: int | None = None, *options: str) -> dict:
    """Run `kiosk import`; kill -9 it at cpu_at ticks or wal_at WAL bytes; report what happened."""
    proc = subprocess.Popen([*KIOSK, "--config", str(config), "import", *options, str(csv_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = {"cpu": 0, "wal": 0, "killed": False, "wal_at_kill": 0}
    try:
        while proc.poll() is None:
            try:
                seen["cpu"] = cpu_ticks(proc.pid)
            except (FileNotFoundError, ProcessLookupError):
                break
            wal = wal_size(db)
            seen["wal"] = max(seen["wal"], wal)
            if (cpu_at is not None and seen["cpu"] >= cpu_at) or \
                    (wal_at is not None and wal >= wal_at):
                proc.send_signal(signal.SIGKILL)
                seen["killed"], seen["wal_at_kill"] = True, wal
                break
            time.sleep(0.002)
        seen["stderr"] = proc.communicate(timeout=300)[1].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seen["returncode"] = proc.returncode
    seen["killed"] = seen["killed"] and proc.returncode == -signal.SIGKILL
    return seen


def state_of(db: Path) -> tuple[str, int, int]:
    """Open the database (recovering its WAL) and return (integrity, orders, items) imported."""
    conn = sqlite3.connect(db)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        orders = conn.execute("SELECT count(*) FROM orders WHERE ref LIKE 'CRASH-%'").fetchone()[0]
        items = conn.execute("SELECT count(*) FROM items JOIN orders ON orders.id = items.order_id"
                             " WHERE orders.ref LIKE 'CRASH-%'").fetchone()[0]
    finally:
        conn.close()
    return integrity, orders, items


def test_killed_imports_leave_all_or_nothing(database_url, tmp_path):
    pristine = Path(make_url(database_url).database)
    csv_path = tmp_path / "orders.csv"
    write_orders(csv_path)
    db = tmp_path / "station.db"
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{db}"\n[logging]\nlevel = "WARNING"\n')

    def fresh() -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        shutil.copy(pristine, db)

    # A dry run (start-up and reading the file) and one import to the end: how much CPU
    # and WAL a whole import takes, and that it works. Kills aim past most of start-up.
    fresh()
    dry = run_import(db, csv_path, config, None, None, "--dry-run")
    assert dry["returncode"] == 0 and state_of(db)[1] == 0, dry["stderr"]
    whole = run_import(db, csv_path, config)
    assert whole["returncode"] == 0, whole["stderr"]
    assert state_of(db) == ("ok", ORDERS, 2 * ORDERS)
    total_cpu, max_wal = max(whole["cpu"], 2), max(whole["wal"], 8192)
    first_cpu = min(dry["cpu"] // 2, total_cpu - 1)

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    outcomes = []
    for n in range(KILLS):
        fresh()
        if n % 2 == 0:
            plan = {"cpu_at": rng.randint(first_cpu, total_cpu)}
        else:
            plan = {"wal_at": rng.randint(4096, max_wal)}
        seen = run_import(db, csv_path, config, **plan)
        integrity, orders, items = state_of(db)
        outcomes.append((plan, seen["killed"], seen["wal_at_kill"], orders))
        where = f"seed {seed}, run {n}, {plan}, killed={seen['killed']}"
        assert integrity == "ok", where
        assert (orders, items) in ((0, 0), (ORDERS, 2 * ORDERS)), f"{where}: {orders} orders"
        if not seen["killed"]:
            assert seen["returncode"] == 0 and orders == ORDERS, seen["stderr"]
    print(f"seed {seed}; cpu ticks: dry run {dry['cpu']}, whole {total_cpu}; max WAL {max_wal}")
    for plan, was_killed, wal_at_kill, orders in outcomes:
        print(f"  {plan}: killed={was_killed} wal_at_kill={wal_at_kill} orders={orders}")
    # The kills really interrupted imports (not just finished ones).
    killed = [o for o in outcomes if o[1]]
    assert len(killed) >= KILLS // 2, outcomes
    assert any(o[3] == 0 for o in killed), outcomes
