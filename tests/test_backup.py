"""`kiosk backup --out FILE`: a consistent, checked copy while the station keeps writing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kiosk.cli import cli
from kiosk.domain.orders import Actor, NewItem, NewOrder, create_order
from kiosk.extensions import db
from kiosk.ops import BackupError, backup

ACTOR = Actor("test", "Test station")


def run_backup(config, out):
    return CliRunner().invoke(cli, ["--config", str(config), "backup", "--out", str(out)])


@pytest.fixture
def config(tmp_path, database_url):
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[database]\nurl = "{database_url}"\n')
    return path


def add_orders(app, count: int, start: int = 0) -> None:
    """Add orders of two items each, one transaction per order."""
    with app.app_context():
        for n in range(start, start + count):
            create_order(db.session, NewOrder(card=f"N{n:09d}", branch="main", items=(
                NewItem(f"B{n}-1"), NewItem(f"B{n}-2"))), ACTOR)
            db.session.commit()


@pytest.mark.sqlite_only
def test_backup_copies_a_checked_single_file(app, config, tmp_path):
    add_orders(app, 5)
    out = tmp_path / "copy.db"
    result = run_backup(config, out)
    assert result.exit_code == 0, result.output
    assert "integrity_check ok, 5 orders" in result.output
    assert not (tmp_path / "copy.db-wal").exists()
    with sqlite3.connect(f"file:{out}?immutable=1", uri=True) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (5,)
    assert not list(tmp_path.glob(".copy.db.*"))  # no temp file left behind


@pytest.mark.sqlite_only
def test_backup_while_the_station_writes_is_consistent(app, config, tmp_path):
    add_orders(app, 10)
    stop = threading.Event()
    written = []

    def writer():
        n = 1000
        while not stop.is_set():
            add_orders(app, 1, start=n)
            written.append(n)
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        copies = []
        for i in range(3):
            while len(written) < 3 * (i + 1):
                stop.wait(0.01)
            out = tmp_path / f"copy{i}.db"
            assert run_backup(config, out).exit_code == 0
            copies.append(out)
    finally:
        stop.set()
        thread.join()
    counts = []
    for out in copies:
        with sqlite3.connect(out) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            orders, = conn.execute("SELECT count(*) FROM orders").fetchone()
            items, = conn.execute("SELECT count(*) FROM items").fetchone()
        assert items == 2 * orders  # no order caught half-written
        counts.append(orders)
    assert counts == sorted(counts) and counts[-1] > 10


@pytest.mark.sqlite_only
def test_a_corrupt_database_fails_the_check(tmp_path):
    bad = tmp_path / "bad.db"
    with sqlite3.connect(bad) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 500,)] * 200)
        conn.execute("CREATE INDEX ix ON t (x)")
    data = bytearray(bad.read_bytes())
    data[4096 * 2 + 100: 4096 * 2 + 400] = os.urandom(300)  # scribble over a b-tree page
    bad.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="failed its integrity check"):
        backup(f"sqlite:///{bad}", tmp_path / "copy.db")
    assert not (tmp_path / "copy.db").exists()


def test_bad_targets_give_a_clear_error(config, tmp_path):
    result = run_backup(config, tmp_path / "missing" / "copy.db")
    assert result.exit_code == 1
    assert "Backup failed: folder" in result.output and "does not exist" in result.output
    assert "Traceback" not in result.output
    assert run_backup(config, tmp_path).exit_code in (1, 2)  # a folder, not a file


def test_missing_sqlite_database_is_not_created(tmp_path):
    with pytest.raises(BackupError, match="no SQLite database"):
        backup(f"sqlite:///{tmp_path / 'none.db'}", tmp_path / "copy.db")
    assert not (tmp_path / "none.db").exists()


def test_without_pg_dump_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BackupError, match="apt-get install postgresql-client"):
        backup("postgresql+psycopg://kiosk:secret@127.0.0.1:1/kiosk", tmp_path / "x.dump")


@pytest.mark.postgres_only
def test_postgres_backup_restores_into_a_fresh_database(app, config, tmp_path, database_url):
    add_orders(app, 7)
    out = tmp_path / "kiosk.dump"
    result = run_backup(config, out)
    assert result.exit_code == 0, result.output
    assert "postgresql, pg_restore --list ok" in result.output
    admin = os.environ["KIOSK_TEST_POSTGRES"]
    name = f"{make_url(database_url).database}_restored"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        target = make_url(admin).set(drivername="postgresql", database=name)
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={target.render_as_string(False)}",
                        str(out)], check=True, capture_output=True)
        restored = create_engine(make_url(admin).set(database=name))
        with restored.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM orders")).scalar() == 7
            assert conn.execute(text("SELECT count(*) FROM items")).scalar() == 14
        restored.dispose()
    finally:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def test_an_existing_file_is_refused_without_force(app, config, tmp_path):
    out = tmp_path / "copy.db"
    out.write_bytes(b"yesterday's backup")
    result = run_backup(config, out)
    assert result.exit_code == 1 and "exists already" in result.output
    assert "--force" in result.output and out.read_bytes() == b"yesterday's backup"
    if make_url(str(app.config["SQLALCHEMY_DATABASE_URI"])).get_backend_name() == "sqlite":
        forced = CliRunner().invoke(cli, ["--config", str(config), "backup", "--out", str(out),
                                          "--force"])
        assert forced.exit_code == 0, forced.output
        assert out.read_bytes().startswith(b"SQLite format 3")
