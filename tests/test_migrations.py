"""Each migration upgrades a database holding data from the one before, on SQLite and
PostgreSQL (whichever this run uses), and the data survive."""

from __future__ import annotations

import uuid

import pytest
from conftest import BASE_CONFIG, ENGINE, _admin_execute, _postgres_url, merge
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text
from staff_helpers import PASSWORD

from kiosk import create_app
from kiosk.config import parse
from kiosk.domain import accounts
from kiosk.extensions import db

PREVIOUS_HEAD = "0003"  # the head before the webhook outbox and heartbeats


@pytest.fixture
def empty_url(tmp_path):
    if ENGINE == "postgresql":
        name = f"kiosk_m_{uuid.uuid4().hex[:10]}"
        _admin_execute(f'CREATE DATABASE "{name}"')
        yield _postgres_url(name)
        _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        yield f"sqlite:///{tmp_path / 'old.db'}"


def station_at(url: str):
    """Return a station app over url (not migrated yet) and its migrations folder."""
    app = create_app(parse(merge(BASE_CONFIG, {"database": {"url": url}})), {"TESTING": True})
    return app, app.extensions["migrate"].directory


def test_upgrade_from_the_previous_head_keeps_orders_and_adds_the_new_tables(empty_url):
    app = create_app(parse(merge(BASE_CONFIG, {"database": {"url": empty_url}})),
                     {"TESTING": True})
    directory = app.extensions["migrate"].directory
    with app.app_context():
        upgrade(directory=directory, revision=PREVIOUS_HEAD)
        db.session.execute(text(
            "INSERT INTO orders (id, ref, card, branch, status, pickup_code, source, "
            "created_at, updated_at) VALUES (7, 'OLD-7', 'N500000007', 'main', 'received', "
            "'KR-472', 'import', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        db.session.execute(text("INSERT INTO items (order_id, barcode, title) "
                                "VALUES (7, '0500007', 'Gammel bok')"))
        db.session.commit()
        upgrade(directory=directory)
        tables = set(inspect(db.engine).get_table_names())
        assert {"webhook_deliveries", "station_heartbeats"} <= tables
        row = db.session.execute(text("SELECT o.ref, o.card, i.title FROM orders o "
                                      "JOIN items i ON i.order_id = o.id")).one()
        assert tuple(row) == ("OLD-7", "N500000007", "Gammel bok")
        # The new tables take rows, and the old order moves on with its events written.
        from kiosk.domain import orders as order_ops
        from kiosk.webhooks.outbox import WebhookDelivery

        order_ops.cancel(db.session, order_ops.get(db.session, 7),
                         order_ops.Actor("tester", "Test station"))
        db.session.add(WebhookDelivery(msg_id="msg_old", endpoint="http://127.0.0.1:9/h",
                                       event_type="order.cancelled", order_id=7, payload="{}"))
        db.session.commit()
        assert db.session.execute(text("SELECT count(*) FROM webhook_deliveries")).scalar() == 1
        db.session.remove()
        db.engine.dispose()


def test_0006_session_generation_keeps_the_accounts(empty_url):
    app, folder = station_at(empty_url)
    with app.app_context():
        upgrade(directory=folder, revision="0005")
        db.session.execute(text(
            "INSERT INTO staff_users (username, password_hash, role, failed_logins, "
            "locked_until, created_at) VALUES ('kari', :h, 'admin', 3, NULL, "
            "CURRENT_TIMESTAMP)"), {"h": accounts.hash_secret(PASSWORD)})
        db.session.execute(text(
            "INSERT INTO orders (ref, card, branch, status, pickup_code, source, created_at, "
            "updated_at) VALUES ('r1', 'N000000001', 'main', 'received', 'AB12', 'import', "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        db.session.commit()
        upgrade(directory=folder, revision="0006")
        columns = {c["name"] for c in inspect(db.engine).get_columns("staff_users")}
        assert "session_generation" in columns and "failed_logins" not in columns
        user = accounts.find_user(db.session, "kari")
        assert user.role == "admin" and user.session_generation == 0
        accounts.unlock(db.session, user)
        db.session.commit()
        assert db.session.execute(text("SELECT count(*) FROM orders")).scalar() == 1
        downgrade(directory=folder, revision="0005")
        assert db.session.execute(text(
            "SELECT username, failed_logins FROM staff_users")).all() == [("kari", 0)]
        db.session.remove()
        db.engine.dispose()


def test_0009_order_version_starts_old_orders_at_one_and_refuses_a_stale_write(empty_url):
    app, folder = station_at(empty_url)
    with app.app_context():
        upgrade(directory=folder, revision="0008")
        db.session.execute(text(
            "INSERT INTO orders (id, ref, card, branch, status, pickup_code, source, "
            "created_at, updated_at) VALUES (9, 'OLD-9', 'N500000009', 'main', 'received', "
            "'KR-479', 'import', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        db.session.commit()
        db.session.execute(text("INSERT INTO items (order_id, barcode, title) "
                                "VALUES (9, '0500009', 'Gammel bok')"))
        db.session.commit()
        upgrade(directory=folder, revision="0009")
        assert db.session.execute(text("SELECT ref, version FROM orders")).one() == ("OLD-9", 1)
        # The order keeps its items (a table rebuild on SQLite would have cascaded them away).
        assert db.session.execute(text("SELECT barcode FROM items")).scalars().all() \
            == ["0500009"]
        from sqlalchemy.orm.exc import StaleDataError

        from kiosk.domain import orders as order_ops

        db.session.commit()  # PostgreSQL: the ALTER TABLEs below wait for open reads
        upgrade(directory=folder)  # today's model reads the columns of later migrations too
        order = order_ops.get(db.session, 9)
        # Another station changes the order after this one read it: this write is refused.
        with db.engine.begin() as other:
            other.execute(text("UPDATE orders SET status = 'cancelled', version = 2 "
                               "WHERE id = 9"))
        order_ops.start_packing(db.session, order, order_ops.Actor("tester", "Test station"))
        with pytest.raises(StaleDataError):
            db.session.commit()
        db.session.rollback()
        assert db.session.execute(text("SELECT status FROM orders")).scalar() == "cancelled"
        db.session.commit()  # PostgreSQL: the ALTER TABLE below waits for open reads
        downgrade(directory=folder, revision="0008")
        assert db.session.execute(text("SELECT ref FROM orders")).scalar() == "OLD-9"
        assert db.session.execute(text("SELECT count(*) FROM items")).scalar() == 1
        db.session.remove()
        db.engine.dispose()


def test_0011_collecting_since_keeps_the_orders_and_goes_back(empty_url):
    app, folder = station_at(empty_url)
    with app.app_context():
        upgrade(directory=folder, revision="0010")
        db.session.execute(text(
            "INSERT INTO orders (id, ref, card, branch, status, pickup_code, source, "
            "created_at, updated_at) VALUES (11, 'OLD-11', 'N500000011', 'main', 'received', "
            "'KR-411', 'import', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        db.session.execute(text("INSERT INTO items (order_id, barcode) VALUES (11, '0500011')"))
        db.session.commit()
        upgrade(directory=folder, revision="0011")
        assert db.session.execute(text(
            "SELECT ref, collecting_since FROM orders")).one() == ("OLD-11", None)
        assert db.session.execute(text("SELECT count(*) FROM items")).scalar() == 1
        db.session.commit()
        downgrade(directory=folder, revision="0010")
        assert db.session.execute(text("SELECT ref FROM orders")).scalar() == "OLD-11"
        assert db.session.execute(text("SELECT count(*) FROM items")).scalar() == 1
        db.session.remove()
        db.engine.dispose()
