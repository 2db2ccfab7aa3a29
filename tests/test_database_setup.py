"""The database connection as the station sets it up: pragmas on SQLite and a pool sized
for the request threads, so a busy minute does not open a new connection per scan."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import event

from kiosk.appsetup import request_threads
from kiosk.extensions import db

pytestmark = pytest.mark.sqlite_only


def test_sqlite_connections_are_set_up_for_a_station(app):
    with app.app_context():
        conn = db.engine.raw_connection()
        try:
            cur = conn.cursor()
            assert cur.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert cur.execute("PRAGMA foreign_keys").fetchone()[0] == 1
            assert cur.execute("PRAGMA busy_timeout").fetchone()[0] > 0
        finally:
            conn.close()


def test_concurrent_scans_reuse_pooled_connections(app, station):
    settings = app.config["KIOSK_SETTINGS"]
    threads = request_threads(settings)
    with app.app_context():
        engine = db.engine
        assert engine.pool.size() == threads + 4
    opened = []
    event.listen(engine, "connect", lambda *args: opened.append(1))
    barrier = threading.Barrier(threads)
    errors: list[Exception] = []

    def scan_twice() -> None:
        try:
            for _ in range(2):
                barrier.wait(timeout=10)  # every request thread holds a connection at once
                station.lookup("N00000001")
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    for round_ in range(2):
        workers = [threading.Thread(target=scan_twice) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert not errors
        if round_ == 0:
            first = len(opened)
    assert first <= threads
    assert len(opened) == first  # the second round opened no connection at all
