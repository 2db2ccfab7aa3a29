"""Staff pages at a big library's scale: the queries read through indexes; migration 0007."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from factories import make_order
from flask_migrate import downgrade, upgrade
from sqlalchemy import event, inspect, select
from staff_helpers import login

from kiosk.domain import lookup
from kiosk.extensions import db
from kiosk.models import Order

BIG = ("orders", "items", "audit_events")  # tables that grow with every order
NEW_INDEXES = {"ix_orders_branch_id", "ix_orders_status_id", "ix_orders_pickup_code",
               "ix_orders_shelved_at", "ix_orders_closed_at", "ix_orders_status_deadline",
               "ix_orders_cancelled_ref"}


@pytest.fixture
def staff(client, app):
    login(client, app)
    return client


def captured_selects(app, client, paths: list[str]) -> list[tuple[str, str, object]]:
    """Return (path, statement, parameters) of every SELECT the pages ran."""
    seen: list[tuple[str, str, object]] = []
    current = {"path": ""}

    def before(_conn, _cursor, statement, parameters, _context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and not executemany:
            seen.append((current["path"], statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        for path in paths:
            current["path"] = path
            assert client.get(path).status_code == 200, path
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return seen


def plan_of(app, statement: str, parameters) -> list[str]:
    """Return the query plan lines of statement (PostgreSQL: with table scans made dear)."""
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            return [r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}",
                                                        parameters)]
        # Tiny test tables are cheaper to read whole; forbid that to see if an index serves.
        conn.exec_driver_sql("SET enable_seqscan = off")
        plan = [r[0] for r in conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)]
        conn.rollback()
        return plan


def full_scans(plan: list[str], statement: str) -> list[str]:
    """Return the plan lines that read a whole big table without an index.

    A page of orders newest first walks the primary key backwards and stops after the
    page (SQLite: "SCAN orders", PostgreSQL: a backward scan of orders_pkey).
    """
    tables = "|".join(BIG)
    if "ORDER BY orders.id DESC" in statement and "LIMIT" in statement:
        plan = [line for line in plan if line != "SCAN orders"]
    return [line for line in plan
            if (re.match(rf"SCAN ({tables})\b", line) and "INDEX" not in line)
            or re.search(rf"Seq Scan on ({tables})\b", line)]


def test_hot_staff_queries_read_through_indexes(app, staff, session, station):
    shelved = make_order(session, slot="A-01", station=station, ref="HOT-1")
    make_order(session, slot="A-03", station=station, status="collected")
    make_order(session)
    # Each page, and an index its main query must read through (not just any index).
    wanted = {
        # The list opens on the station's branch (issue 24); ?branch=all lists every one.
        "/staff/orders": "ix_orders_branch_id",
        "/staff/orders?branch=all": "",  # newest first: the primary key read backwards
        "/staff/orders?branch=main": "ix_orders_branch_id",
        "/staff/orders?status=ready&branch=all": "ix_orders_status_id",
        "/staff/orders?status=ready": "ix_orders_status_",
        "/staff/orders?page=2&branch=all": "",
        f"/staff/orders?q={shelved.card}": "ix_orders_card_status",
        f"/staff/orders?q={shelved.pickup_code}": "ix_orders_pickup_code",
        "/staff/orders?q=HOT-1": "",
        f"/staff/orders/{shelved.id}": "",
        # PostgreSQL, on a few test rows, may take the branch index; SQLite the status one.
        "/staff/packing": "ix_orders_status_branch|ix_orders_branch_id",
        "/staff/stats": "ix_orders_shelved_at",
        "/staff/clearance": "ix_orders_status_deadline",
        "/staff/shelves": "",
        f"/staff/shelves?code={shelved.pickup_code}":
            "ix_orders_pickup_code|uq_orders_active_pickup_code",
        "/staff/shelves?shelf=A": "",
    }
    selects = captured_selects(app, staff, list(wanted))
    plans: dict[str, list[str]] = {path: [] for path in wanted}
    scans = {}
    for path, statement, parameters in selects:
        plan = plan_of(app, statement, parameters)
        plans[path] += plan
        if full_scans(plan, statement):
            scans[f"{path}: {statement[:300]}"] = full_scans(plan, statement)
    assert not scans, scans
    for path, index in wanted.items():
        assert re.search(index, "\n".join(plans[path])), (path, plans[path])


def test_the_scan_lookup_reads_through_the_card_index(app, session, station):
    """The scan's one query seeks card, status and branch in one index. With (card, status)
    beside (status, branch), SQLite took the branch's index and read every open order of the
    branch on each scan (1.3 ms instead of 0.06 ms on 20,000 orders)."""
    make_order(session, slot="A-01", station=station)
    with app.app_context():
        statement = str(lookup._OPEN_ORDERS.compile(dialect=db.engine.dialect))
        parameters = ("N000000001", "main", "received", "packing", "ready")
        if db.engine.dialect.name != "sqlite":
            parameters = dict(zip(("card", "branch", "status_1", "status_2", "status_3"),
                                  parameters, strict=True))
    plan = "\n".join(plan_of(app, statement, parameters))
    assert "ix_orders_card_status_branch" in plan, plan
    assert "ix_orders_status_branch" not in plan, plan


def test_migration_0007_upgrades_a_database_with_orders(app, session, station):
    directory = app.extensions["migrate"].directory
    # The orders are made by today's model, then the schema goes back to 0006 around them
    # (today's model has columns 0006 lacks, so it cannot write at 0006).
    kept = [make_order(session, slot="A-02", station=station).id,
            make_order(session, slot="A-03", station=station, status="collected").id]
    session.rollback()  # reading the ids began a transaction; a migration must not wait on it
    with app.app_context():
        downgrade(directory=directory, revision="0006")
        names = {i["name"] for i in inspect(db.engine).get_indexes("orders")}
        assert not names & NEW_INDEXES
        db.session.remove()
    with app.app_context():
        upgrade(directory=directory)
        names = {i["name"] for i in inspect(db.engine).get_indexes("orders")}
        assert NEW_INDEXES <= names
        ids = db.session.scalars(select(Order.id).order_by(Order.id)).all()
        assert ids == sorted(kept)
        db.session.remove()


def test_a_big_shelf_map_opens_as_an_overview_then_one_shelf(staff, session, station,
                                                            monkeypatch):
    from kiosk.staff import shelfmap

    monkeypatch.setattr(shelfmap, "COMPACT_FROM", 5)  # the test station has 10 slots
    on_a = make_order(session, slot="A-01", station=station)
    on_b = make_order(session, slot="B-02", station=station)
    on_a.deadline = dt.date.today() - dt.timedelta(days=10)
    session.commit()
    html = staff.get("/staff/shelves").get_data(as_text=True)
    assert 'class="shelf-overview"' in html and 'class="slot ' not in html
    assert '<a href="/staff/shelves?shelf=A">A</a>' in html
    assert '<td>1 / 12</td>' in html and '<td>1 / 12</td>' in html.split('>B</a>')[1]
    assert 'href="/staff/shelves?shelf=A&amp;state=expired">1</a>' in html
    html = staff.get("/staff/shelves?shelf=a").get_data(as_text=True)
    assert html.count('class="slot ') == 6 and 'data-slot="B-01"' not in html
    assert on_a.pickup_code in html and on_b.pickup_code not in html
    html = staff.get("/staff/shelves?shelf=A&state=expired").get_data(as_text=True)
    assert html.count('class="slot ') == 1 and 'data-slot="A-01"' in html
    html = staff.get(f"/staff/shelves?code={on_b.pickup_code.lower()}").get_data(as_text=True)
    assert f"Bag {on_b.pickup_code} is on B-02." in html
    assert 'class="slot slot-used found" data-slot="B-02"' in html
    assert html.count('class="slot ') == 4
    html = staff.get("/staff/shelves?code=ZZ-999").get_data(as_text=True)
    assert "No bag with pickup code ZZ-999 is on a shelf." in html


def test_the_pick_list_comes_in_pages_that_keep_one_walk(staff, session, monkeypatch):
    from kiosk.staff import packing

    monkeypatch.setattr(packing, "PAGE", 2)
    orders = [make_order(session, items=2) for _ in range(5)]
    for n, order in enumerate(orders):  # walking order: the reverse of creation
        order.items[1].barcode = f"00{9 - n}"
    session.commit()
    walk = [o.pickup_code for o in reversed(orders)]
    seen = []
    for page in (1, 2, 3):
        html = staff.get(f"/staff/packing?page={page}").get_data(as_text=True)
        assert f"page {page} of 3" in html and "5 orders to pack" in html
        seen += sorted((c for c in walk if c in html), key=html.index)
    assert seen == walk
    assert walk[-1] in staff.get("/staff/packing?page=99").get_data(as_text=True)
    assert walk[0] in staff.get("/staff/packing?page=x").get_data(as_text=True)
