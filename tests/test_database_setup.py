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


def test_every_request_thread_keeps_a_pooled_connection(app):
    """Each request thread can hold a connection at once, and gives it back to stay open."""
    threads = request_threads(app.config["KIOSK_SETTINGS"])
    with app.app_context():
        engine = db.engine
        assert engine.pool.size() == threads + 4
    opened, closed = [], []
    event.listen(engine, "connect", lambda *args: opened.append(1))
    event.listen(engine, "close", lambda *args: closed.append(1))
    barrier = threading.Barrier(threads)
    errors: list[Exception] = []

    def request_holding_a_connection() -> None:
        try:
            conn = engine.raw_connection()
            try:
                conn.cursor().execute("SELECT count(*) FROM orders").fetchall()
                barrier.wait(timeout=10)  # every thread holds its connection at this point
            finally:
                conn.close()  # back to the pool
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)

    opened_per_minute = []
    for _ in range(2):  # a busy minute, then another
        workers = [threading.Thread(target=request_holding_a_connection) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert not errors
        opened_per_minute.append(len(opened))
    assert engine.pool.checkedin() >= threads  # all back in the pool, still open
    assert closed == []  # none closed on return ...
    assert opened_per_minute[1] == opened_per_minute[0]  # ... so the second minute opened none
