"""Upgrading a database made before branches (migration 0010): its shelves become the
first upgrading station's branch's, and no bag moves (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from conftest import BASE_CONFIG, ENGINE, _admin_execute, _postgres_url, merge
from flask_migrate import upgrade
from sqlalchemy import text

from kiosk import create_app
from kiosk.config import parse
from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.schema import upgrade_database

WALL = [{"name": "A", "slots": 4, "capacity": 2}]


@pytest.fixture
def old_url(tmp_path):
    if ENGINE == "postgresql":
        name = f"kiosk_b_{uuid.uuid4().hex[:10]}"
        _admin_execute(f'CREATE DATABASE "{name}"')
        yield _postgres_url(name)
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        yield f"sqlite:///{tmp_path / 'old.db'}"


def test_upgrading_moves_the_shelves_to_the_first_branch_and_no_bag_moves(old_url):
    """A database as the main before this round made it (0008) with bags on its shelf."""
    def station(branch: str):
        return create_app(parse(merge(BASE_CONFIG, {
            "database": {"url": old_url}, "station": {"name": branch, "branch": branch},
            "shelves": WALL})), {"TESTING": True})

    first = station("bekkestua")
    with first.app_context():
        upgrade(directory=first.extensions["migrate"].directory, revision="0008")
        for sql in (
                "INSERT INTO shelves (id, name, position) VALUES (5, 'A', 0)",
                "INSERT INTO slots (id, shelf_id, number, label, capacity, active) "
                "VALUES (50, 5, 1, 'A-01', 2, true), (51, 5, 2, 'A-02', 2, true)",
                "INSERT INTO places (id, slot_id, number) VALUES (500, 50, 1), (501, 50, 2), "
                "(510, 51, 1), (511, 51, 2)",
                "INSERT INTO orders (id, ref, card, branch, status, pickup_code, source, "
                "place_id, slot_label, created_at, updated_at) VALUES (7, 'OLD-7', "
                "'N500000007', 'bekkestua', 'ready', 'KR-472', 'import', 501, 'A-01', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"):
            db.session.execute(text(sql))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    upgrade_database(first)  # `kiosk init` of the first station: 0010, then its shelves
    second = station("sandvika")
    upgrade_database(second)
    try:
        with second.app_context():
            walls = {tuple(row) for row in db.session.execute(text(
                "SELECT id, branch, name FROM shelves"))}
            assert (5, "bekkestua", "A") in walls and len(walls) == 2
            assert {(b, name) for _id, b, name in walls} == {("bekkestua", "A"),
                                                             ("sandvika", "A")}
            assert db.session.execute(text(
                "SELECT place_id, slot_label, status FROM orders WHERE id = 7")).one() == (
                501, "A-01", "ready")
            assert db.session.execute(text(
                "SELECT branch FROM slots WHERE id = 50")).scalar() == "bekkestua"
            order = order_ops.get(db.session, 7)
            assert order.place.slot.branch == "bekkestua"
        body = first.test_client().post("/kiosk/scan", json={"code": "N500000007"}).get_json()
        assert body["outcome"] == "ready" and body["pickups"][0]["slot"] == "A-01"
    finally:
        for app in (first, second):
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
