"""A full disk and a removed database file: refused writes, /healthz says so, recovery.

The full disk is real: SQLite's `PRAGMA max_page_count` on every connection makes the
database file unable to grow, so writes fail with SQLITE_FULL as on a full file system.
"""

from __future__ import annotations

import os
import shutil

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from staff_helpers import login

from kiosk.extensions import db

pytestmark = pytest.mark.sqlite_only

TOKEN = "s3cret-token-for-the-ils-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def config_overrides(tmp_path):
    path = tmp_path / "api-tokens"
    path.write_text(f"{TOKEN}\n")
    return {"api": {"tokens_file": str(path)}}


def order(n: int) -> dict:
    return {"ref": f"ils-{n}", "card": "N123456789", "branch": "main",
            "items": [{"barcode": f"0300{n:04d}{i}", "title": "T" * 200} for i in range(20)]}


class PageLimit:
    """Cap the database file at `pages` pages on every connection (None: no cap)."""

    def __init__(self, app):
        self.app, self.pages = app, None
        with app.app_context():
            event.listen(db.engine, "connect", self._apply)

    def _apply(self, dbapi_connection, _record):
        if self.pages is not None:
            dbapi_connection.execute(f"PRAGMA max_page_count = {self.pages}")

    def set(self, extra_pages: int | None) -> None:
        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()  # the cap is per connection: new ones take the new cap
            if extra_pages is None:
                self.pages = None
            else:
                with db.engine.connect() as conn:
                    self.pages = conn.execute(text("PRAGMA page_count")).scalar() + extra_pages
                db.engine.dispose()


def fill_staff_table(app) -> None:
    from sqlalchemy.exc import OperationalError

    n = 0
    with app.app_context():
        for size in (200, 50, 10, 1):  # smaller rows fill what room bigger ones left
            while True:
                n += 1
                try:
                    db.session.execute(text(
                        "INSERT INTO staff_users (username, password_hash, role, created_at, "
                        "session_generation) VALUES (:u, :h, 'staff', CURRENT_TIMESTAMP, 0)"),
                        {"u": f"f{n:05d}", "h": "h" * size})
                    db.session.commit()
                except OperationalError:
                    db.session.rollback()
                    break
                assert n < 10_000, "the staff table never filled up"


def test_disk_full_answers_507_and_healthz_503_then_recovers(app, client):
    login(client, app, "anne", role="admin")
    assert client.post("/api/v1/orders", json=order(0), headers=AUTH).status_code == 201
    limit = PageLimit(app)
    limit.set(2)
    codes = [client.post("/api/v1/orders", json=order(n), headers=AUTH).status_code
             for n in range(1, 15)]
    assert 507 in codes and 500 not in codes, codes
    r = client.post("/api/v1/orders", json=order(99), headers=AUTH)
    assert r.status_code == 507 and r.json["error"] == "insufficient storage"
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json["database"]["state"] == "disk full"
    # staff see a clear message, in their language (their table's pages filled up first)
    fill_staff_table(app)
    r = client.post("/staff/users?lang=en", data={"username": "ola" + "x" * 60,
                                                  "password": "p" * 900, "role": "staff"})
    assert r.status_code == 507, r.status_code
    assert "database disk is full" in r.get_data(as_text=True)
    r = client.post("/staff/users?lang=nb", data={"username": "per" + "y" * 60,
                                                  "password": "q" * 900, "role": "staff"})
    assert r.status_code == 507 and "disken" in r.get_data(as_text=True).lower()
    # room again: no restart needed
    limit.set(None)
    assert client.get("/healthz").status_code == 200
    assert client.post("/api/v1/orders", json=order(100), headers=AUTH).status_code == 201


def _path(app) -> str:
    return make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_a_removed_or_replaced_database_file_refuses_writes(app, client, how, tmp_path):
    assert client.post("/api/v1/orders", json=order(1), headers=AUTH).status_code == 201
    assert client.get("/healthz").status_code == 200
    path = _path(app)
    if how == "removed":
        os.unlink(path)
    else:
        shutil.copy(path, tmp_path / "other.db")
        os.replace(tmp_path / "other.db", path)
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json["database"] == {
        "state": "file gone", "detail": f"the database file was {how}; restart the station"}
    r = client.post("/api/v1/orders", json=order(2), headers=AUTH)
    assert r.status_code == 503 and r.json["error"] == "database file gone"
    assert "nothing was saved" in r.json["detail"]
    if how == "replaced":  # the file now at the path never got the refused order
        with app.app_context():
            db.engine.dispose()
            assert db.session.execute(text(
                "SELECT count(*) FROM orders WHERE ref = 'ils-2'")).scalar() == 0


@pytest.mark.parametrize("how", ["removed", "replaced"])
def test_the_watchdog_stops_pinging_when_the_database_file_goes(app, client, how, tmp_path):
    from kiosk import systemd

    checks = systemd.health_checks(app)
    assert client.get("/healthz").status_code == 200
    assert systemd.problems(checks) == []
    path = _path(app)
    if how == "removed":
        os.unlink(path)
    else:
        shutil.copy(path, tmp_path / "other.db")
        os.replace(tmp_path / "other.db", path)
    # SELECT 1 still answers from the open file; only a restart opens the path again,
    # so the watchdog must withhold its ping and let systemd restart the station.
    assert systemd.database_check(app)() is None
    assert systemd.problems(checks) == [f"the database file {path} was {how}"]
