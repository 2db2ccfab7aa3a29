"""An import writes all of a file or nothing of it, and says why in words staff can act on.

Found by mutation testing (scripts/mutation.sh domain/importer.py, docs/testing.md). Runs on
SQLite and, with KIOSK_TEST_POSTGRES, on PostgreSQL (COPY and the id sequence there).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from factories import make_order
from sqlalchemy import func, select, text

from kiosk.domain import importer, order_events, pickup_codes
from kiosk.domain.import_files import Preview
from kiosk.domain.orders import Actor
from kiosk.models import AuditEvent, Order

ACTOR = Actor("import guarantees.json", "Desk")


def run(session, station, data, **kwargs):
    return importer.import_orders(session, data, ACTOR, station.cards, station.branch, **kwargs)


def failure(session, station, data, **kwargs) -> list[str]:
    before = session.scalar(select(func.count(Order.id)))
    with pytest.raises(importer.ImportFailed) as info:
        run(session, station, data, **kwargs)
    session.rollback()
    assert session.scalar(select(func.count(Order.id))) == before, "nothing half-written"
    count = len(info.value.problems)
    assert str(info.value) == f"{count} problem{'s' if count > 1 else ''}; nothing imported"
    return [str(p) for p in info.value.problems]


def test_an_import_writes_each_order_whole_as_received_with_its_items_and_audit(
        session, station, monkeypatch):
    existing = make_order(session)
    changes = []
    monkeypatch.setattr(order_events, "_listeners",
                        [lambda s, c: changes.extend(c) if s is session else None])
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    data = json.dumps([
        {"ref": "g-1", "card": "N100000001", "patron_name": "Kari",
         "items": [{"barcode": "1", "title": "Sult"}, {"barcode": "2"}]},
        {"card": "N100000002", "branch": "bryn", "items": [{"barcode": "3", "title": "Naiv"}]},
    ]).encode()
    result = run(session, station, data)
    session.commit()
    assert (result.orders, result.items, result.per_branch) == (2, 3, {"main": 1, "bryn": 1})
    assert result.order_ids == [existing.id + 1, existing.id + 2]
    first, second = (session.get(Order, i) for i in result.order_ids)
    assert (first.ref, first.card, first.branch, first.patron_name, first.status,
            first.source) == ("g-1", "N100000001", "main", "Kari", "received", "import")
    assert (second.ref, second.card, second.branch, second.patron_name) == (
        None, "N100000002", "bryn", None)
    assert [(i.barcode, i.title) for i in first.items] == [("1", "Sult"), ("2", None)]
    assert [(i.barcode, i.title) for i in second.items] == [("3", "Naiv")]
    assert first.created_at == first.updated_at == second.created_at
    stored = first.created_at.replace(tzinfo=None)
    assert before - dt.timedelta(seconds=1) <= stored <= dt.datetime.now(dt.UTC).replace(
        tzinfo=None)
    codes = {first.pickup_code, second.pickup_code, existing.pickup_code}
    assert len(codes) == 3 and all(pickup_codes.parse_code(c) for c in codes)
    audit = session.execute(select(AuditEvent.order_id, AuditEvent.actor, AuditEvent.station,
                                   AuditEvent.action, AuditEvent.from_status,
                                   AuditEvent.to_status)
                            .where(AuditEvent.order_id.in_(result.order_ids))
                            .order_by(AuditEvent.order_id)).all()
    assert [tuple(a) for a in audit] == [
        (oid, "import guarantees.json", "Desk", "created", "received", "received")
        for oid in result.order_ids]
    assert [(c.order_id, c.status, c.previous, c.ref, c.branch, c.pickup_code, c.slot,
             c.last_day, c.station, c.card, c.patron_name) for c in changes] == [
        (first.id, "received", None, "g-1", "main", first.pickup_code, None, None, "Desk",
         "N100000001", "Kari"),
        (second.id, "received", None, None, "bryn", second.pickup_code, None, None, "Desk",
         "N100000002", None)]
    # The ids were taken from the id sequence (PostgreSQL) or past the highest (SQLite):
    # an order made one at a time afterwards gets the next one, not an imported one's.
    if session.get_bind().dialect.name == "postgresql":
        assert session.scalar(text("SELECT last_value FROM orders_id_seq")) == existing.id + 2
    assert make_order(session).id == existing.id + 3


def test_every_ref_already_taken_is_reported_however_many_lookups_it_takes(
        session, station, monkeypatch):
    monkeypatch.setattr(importer, "REF_CHUNK", 2)
    for n in range(5):
        make_order(session, ref=f"t-{n}")
    rows = "".join(f"N10000000{n},{n},t-{n}\n" for n in range(7))
    assert failure(session, station, f"card,item_barcode,order_ref\n{rows}".encode()) == [
        f"Line {n + 2}, order t-{n}, column order_ref: An order with ref t-{n} exists already"
        for n in range(5)]
    data = json.dumps([{"ref": "new", "card": "N100000001", "items": [{"barcode": "1"}]},
                       {"ref": "t-3", "card": "N100000001", "items": [{"barcode": "1"}]},
                       {"ref": "new", "card": "N100000002", "items": [{"barcode": "1"}]}])
    assert failure(session, station, data.encode()) == [
        "Order t-3, column ref: An order with ref t-3 exists already",
        "Order new, column ref: Ref new is used by another order in this file"]
    # The API lists problems as objects: each keeps its place in the JSON list.
    with pytest.raises(importer.ImportFailed) as info:
        run(session, station, data.encode())
    session.rollback()
    assert [(p.as_dict()["order"], p.as_dict()["column"]) for p in info.value.problems] == [
        (2, "ref"), (3, "ref")]


def test_problems_come_in_the_order_of_the_file(session, station):
    make_order(session, ref="late")
    data = (b"card,item_barcode,order_ref\nN100000001,1,late\nN1,2,x\n"
            b"N100000003,3,y\nN100000003,3,y\n")
    assert failure(session, station, data) == [
        "Line 2, order late, column order_ref: An order with ref late exists already",
        "Line 3, order x, column card: Not a card number this station accepts: N1; check the "
        "number, or ask IT which card numbers are set up",
        "Line 5, order y, column item_barcode: Barcode 3 is already in this order on line 4"]


def test_a_file_without_orders_or_that_cannot_be_read_is_one_clear_problem(
        session, station, tmp_path):
    assert failure(session, station, b"[]") == ["No orders in the file"]
    assert failure(session, station, Preview("csv")) == ["No orders in the file"]
    pv = importer.preview(session, tmp_path / "gone.csv", station.cards, station.branch)
    assert (pv.format, [str(p) for p in pv.problems]) == (
        "?", ["Cannot read the file: No such file or directory"])
    pv = importer.preview(session, tmp_path, station.cards, station.branch, fmt="csv")
    assert (pv.format, [str(p) for p in pv.problems]) == (
        "csv", ["Cannot read the file: Is a directory"])
    assert failure(session, station, tmp_path / "gone.csv") == [
        "Cannot read the file: No such file or directory"]


def test_the_format_given_wins_over_the_content(session, station):
    data = b'[{"card": "N100000001", "items": [{"barcode": "1"}]}]'
    assert run(session, station, data).orders == 1
    session.rollback()
    pv = importer.preview(session, data, station.cards, station.branch, fmt="csv")
    assert pv.format == "csv" and not pv.ok
    with pytest.raises(importer.ImportFailed):
        run(session, station, data, fmt="csv")


def test_an_order_for_a_branch_the_library_lacks_is_refused_in_an_import_too(session, station):
    data = b"card,item_barcode,filial\nN100000001,1,main\nN100000002,2,sanvika\n"
    assert failure(session, station, data, branches={"main"}) == [
        "Line 3, column filial: Unknown branch sanvika (the library's branches: main)"]
    assert run(session, station, data, branches={"main", "sanvika"}).orders == 2


def test_no_free_pickup_code_fails_whole_with_the_reason(session, station, monkeypatch):
    monkeypatch.setattr(pickup_codes, "draw", lambda count, used: None)
    assert failure(session, station, b"card,item_barcode\nN100000001,1\n") == [
        "Could not find a free pickup code; too many open orders"]  # as a single order


def test_codes_taken_again_and_again_are_drawn_three_times_then_nothing_is_imported(
        session, station, monkeypatch):
    taken = make_order(session).pickup_code
    draws = []

    def always_taken(count, used):  # as if another station took the code every time
        draws.append(count)
        return [taken] * count

    monkeypatch.setattr(pickup_codes, "draw", always_taken)
    assert failure(session, station, b"card,item_barcode\nN100000001,1\n") == [
        "Other orders took the drawn pickup codes several times; nothing imported, please "
        "try again"]
    assert draws == [1, 1, 1]


def test_only_codes_of_open_orders_are_kept_from_the_draw(session, station, monkeypatch):
    open_code = make_order(session).pickup_code
    done_code = make_order(session, status="cancelled").pickup_code
    seen = []
    real = pickup_codes.draw
    monkeypatch.setattr(pickup_codes, "draw",
                        lambda count, used: seen.append(set(used)) or real(count, used))
    run(session, station, b"card,item_barcode\nN100000001,1\n")
    assert open_code in seen[0] and done_code not in seen[0]


def test_a_landed_import_is_counted_once_with_its_orders_and_a_failed_one_not(
        session, station, monkeypatch):
    import time

    seen = []
    monkeypatch.setattr(order_events, "_import_listeners", [lambda n, s: seen.append((n, s))])
    started = time.perf_counter()
    run(session, station, b"card,item_barcode\nN100000001,1\nN100000002,2\n")
    took = time.perf_counter() - started
    [(orders, seconds)] = seen
    assert orders == 2 and 0 <= seconds <= took
    failure(session, station, b"card,item_barcode\nN1,1\n")
    assert len(seen) == 1


def test_the_hook_sees_each_new_order_in_the_import_s_own_session(session, station):
    seen = []
    result = run(session, station, b"card,item_barcode,branch\nN100000001,1,bryn\n",
                 on_created=lambda s, created: seen.append((s, created)))
    [(hook_session, [created])] = seen
    assert hook_session is session
    order = session.get(Order, created.id)
    assert (created.id, created.ref, created.branch, created.pickup_code) == (
        result.order_ids[0], None, "bryn", order.pickup_code)


@pytest.mark.sqlite_only
def test_on_sqlite_an_import_holds_the_write_lock_before_it_reads_ids_and_codes(session):
    """The highest id and the codes in use, read next, stay the import's own until it
    commits: another writer waits (here: is refused at once) instead of taking them."""
    import sqlite3

    from kiosk.extensions import db

    conn = session.connection()
    importer._begin_writing(conn)
    other = sqlite3.connect(db.engine.url.database, timeout=0)
    try:
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
        importer._begin_writing(conn)  # inside its transaction already: nothing more to do
        session.rollback()
        other.execute("BEGIN IMMEDIATE")  # the lock went with the transaction
        other.rollback()
    finally:
        other.close()


def test_an_imported_order_stores_its_times_as_an_order_made_one_at_a_time(session, station):
    """The bulk write hands the driver what the ORM would (on SQLite: the same text, with
    no "+00:00" of sqlite3's own adapter), so times compare alike in SQL."""
    made = make_order(session)
    [imported] = run(session, station, b"card,item_barcode\nN100000001,1\n").order_ids
    session.commit()
    raw = {oid: session.execute(text("SELECT created_at, updated_at FROM orders WHERE id = :i"),
                                {"i": oid}).one() for oid in (made.id, imported)}
    shape = {oid: [(type(v), len(v) if isinstance(v, str) else None) for v in values]
             for oid, values in raw.items()}
    assert shape[imported] == shape[made.id], raw


def test_a_file_s_name_decides_its_format_when_its_content_cannot(session, station, tmp_path):
    """orders.json that does not start as JSON is reported as broken JSON, not read as a CSV
    with strange columns."""
    broken = tmp_path / "orders.json"
    broken.write_bytes(b'// exported 2026-12-02\n[{"card": "N100000001", "items": []}]\n')
    pv = importer.preview(session, broken, station.cards, station.branch)
    assert pv.format == "json"
    assert [p.problem for p in pv.problems] == ["Not valid JSON: %(error)s"]
