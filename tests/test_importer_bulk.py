"""The bulk write of an import: batches, pickup codes drawn at once, races the database decides."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter

import pytest
from factories import make_order
from sqlalchemy import func, select

from kiosk.domain import audit as audit_codes
from kiosk.domain import importer, pickup_codes
from kiosk.domain.orders import Actor
from kiosk.extensions import db
from kiosk.models import ACTIVE_STATUSES, AuditEvent, Item, Order

ACTOR = Actor("import bulk.csv", "Test station")


def orders_csv(count: int, prefix: str = "B", items: int = 1) -> bytes:
    rows = ["card,item_barcode,title,order_ref"]
    for n in range(count):
        rows += [f"N{100000000 + n % 7:09d},{prefix}{n:06d}{i},Bok {n},{prefix}-{n}"
                 for i in range(items)]
    return ("\n".join(rows) + "\n").encode()


def run(session, station, data, **kwargs):
    return importer.import_orders(session, data, ACTOR, station.cards, station.branch, **kwargs)


def test_codes_drawn_at_once_are_distinct_and_avoid_taken_ones():
    every = pickup_codes.all_codes()
    assert len(set(every)) == pickup_codes.SPACE == 196_000
    assert all(pickup_codes.parse_code(c) == c for c in every[::997])
    taken = set(every[:190_000])
    drawn = pickup_codes.draw(6_000, taken)
    assert len(set(drawn)) == 6_000 and not set(drawn) & taken  # every free code, once
    assert pickup_codes.draw(6_001, taken) is None
    few = pickup_codes.draw(5, {"KR-472"})
    assert len(set(few)) == 5 and all(pickup_codes.CODE_RE.match(c) for c in few)


def test_batches_write_orders_items_audit_and_tell_the_hook(session, station, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 40)
    existing = make_order(session)  # an open order: its code is not drawn again
    calls, seen = [], []
    result = run(session, station, orders_csv(100, items=2),
                 progress=lambda done, total: calls.append((done, total)),
                 on_created=lambda s, created: seen.append(created))
    assert calls == [(40, 100), (80, 100), (100, 100)]
    assert [len(batch) for batch in seen] == [40, 40, 20]
    created = [c for batch in seen for c in batch]
    assert [c.id for c in created] == result.order_ids
    rows = session.execute(select(Order.id, Order.ref, Order.pickup_code, Order.status)
                           .where(Order.ref.like("B-%"))).all()
    assert {(r.id, r.ref, r.pickup_code) for r in rows} == {
        (c.id, c.ref, c.pickup_code) for c in created}
    assert {r.status for r in rows} == {"received"}
    active = session.scalars(select(Order.pickup_code).where(
        Order.status.in_([s.value for s in ACTIVE_STATUSES]))).all()
    assert len(active) == 101 and len(set(active)) == 101 and existing.pickup_code in active
    assert session.scalar(select(func.count(Item.id)).where(
        Item.order_id.in_(result.order_ids))) == 200
    audit = session.execute(select(AuditEvent.order_id, AuditEvent.actor, AuditEvent.action,
                                   AuditEvent.detail)
                            .where(AuditEvent.order_id.in_(result.order_ids))).all()
    assert Counter(a.order_id for a in audit) == Counter(result.order_ids)
    sha = hashlib.sha256(orders_csv(100, items=2)).hexdigest()  # the file, to know it again
    assert {(a.actor, a.action, a.detail) for a in audit} == {
        ("import bulk.csv", "created", audit_codes.detail("items", num=2, file="",
                                                           sha256=sha))}
    order = session.get(Order, result.order_ids[0])
    assert order.created_at is not None and order.items[0].title == "Bok 0"


def test_a_code_taken_meanwhile_is_drawn_again_by_the_database(session, station, monkeypatch):
    taken = make_order(session).pickup_code
    real = pickup_codes.draw
    draws = []

    def stale(count, used):  # as if another station took `taken` after the codes were read
        draws.append(count)
        codes = real(count, used)
        return [taken, *codes[1:]] if len(draws) == 1 else codes

    monkeypatch.setattr(pickup_codes, "draw", stale)
    result = run(session, station, orders_csv(30))
    assert len(draws) == 2 and result.orders == 30
    codes = session.scalars(select(Order.pickup_code)).all()
    assert len(codes) == 31 and len(set(codes)) == 31

    monkeypatch.setattr(pickup_codes, "draw", lambda count, used: [taken] * count)
    with pytest.raises(importer.ImportFailed) as info:
        run(session, station, orders_csv(5, prefix="C"))
    assert "pickup codes" in str(info.value.problems[0])
    assert session.scalar(select(func.count(Order.id))) == 31  # nothing of it written


def test_no_free_pickup_code_fails_whole(session, station, monkeypatch):
    monkeypatch.setattr(pickup_codes, "draw", lambda count, used: None)
    with pytest.raises(importer.ImportFailed) as info:
        run(session, station, orders_csv(3))
    assert "free pickup code" in str(info.value.problems[0])
    assert session.scalar(select(func.count(Order.id))) == 0


def test_two_imports_checked_at_once_cannot_both_write_a_ref(app, station):
    """Both pass the ref check before either writes; the unique index lets one through."""
    files = [orders_csv(50, prefix="S"), orders_csv(50, prefix="S").replace(b"N1", b"N2")]
    ready = threading.Barrier(2, timeout=60)
    outcome: dict[int, object] = {}

    def one(n: int) -> None:
        with app.app_context():
            try:
                pv = importer.preview(db.session, files[n], station.cards, station.branch)
                db.session.rollback()
                assert pv.ok, pv.problems
                ready.wait()
                outcome[n] = importer.import_orders(db.session, pv, ACTOR, station.cards,
                                                    station.branch)
            except importer.ImportFailed as exc:
                outcome[n] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    failed = [o for o in outcome.values() if isinstance(o, importer.ImportFailed)]
    done = [o for o in outcome.values() if isinstance(o, importer.ImportResult)]
    assert len(failed) == 1 and len(done) == 1, outcome
    assert "exists already" in str(failed[0].problems[0])
    with app.app_context():
        refs = db.session.scalars(select(Order.ref)).all()
        assert len(refs) == 50 and len(set(refs)) == 50
        assert db.session.scalar(select(func.count(Item.id))) == 50


def test_an_api_order_taking_a_ref_after_the_check_fails_the_import(session, station):
    pv = importer.preview(session, orders_csv(20), station.cards, station.branch)
    make_order(session, ref="B-7")  # committed between check and write
    with pytest.raises(importer.ImportFailed) as info:
        run(session, station, pv)
    assert "B-7" in str(info.value.problems[0])
    assert session.scalars(select(Order.ref)).all() == ["B-7"]
