"""Several stations shelving into the same slots at once: never over capacity, no order lost.

Each thread is one station with its own app context and database session, as
in production; a barrier starts them together. Runs on SQLite here and on
PostgreSQL when KIOSK_TEST_POSTGRES is set.
"""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from factories import make_order
from sqlalchemy import func, select

from kiosk.domain import orders as order_ops
from kiosk.domain import shelving
from kiosk.extensions import db
from kiosk.models import Order, OrderStatus, Place, Slot

THREADS = 6
PER_THREAD = 3


def shelve_from_station(app, station, n: int, order_ids: list[int], labels: list[str],
                        barrier: threading.Barrier, outcome: dict) -> None:
    """Shelve each order into the first of labels with room, like staff scanning slots."""
    actor = order_ops.Actor(f"staff{n}", f"station {n}")
    with app.app_context():
        barrier.wait()
        for order_id in order_ids:
            for label in labels:
                order = db.session.get(Order, order_id)
                slot = shelving.get_slot(db.session, label, "main")

                def work(order=order, slot=slot) -> None:
                    shelving.shelve(db.session, order, slot, actor, station.calendar, 7)

                try:
                    shelving.with_retry(db.session, work, attempts=50)
                except shelving.SlotFull:
                    outcome.setdefault(order_id, []).append(("full", label))
                    continue
                except Exception as exc:  # noqa: BLE001  (reported, then the test fails)
                    outcome.setdefault(order_id, []).append(("error", repr(exc)))
                    break
                outcome.setdefault(order_id, []).append(("on", label))
                break
        db.session.remove()


@pytest.mark.parametrize("labels", [["A-01", "A-02"], ["B-04"]])
def test_many_stations_shelving_into_the_same_slots(app, session, station, labels):
    ids = [make_order(session, items=1).id for _ in range(THREADS * PER_THREAD)]
    session.close()
    capacity = {"A": 2, "B": 3}[labels[0][0]] * len(labels)
    barrier = threading.Barrier(THREADS)
    outcome: dict[int, list] = {}
    threads = [threading.Thread(target=shelve_from_station,
                                args=(app, station, n, ids[n::THREADS], labels, barrier,
                                      outcome))
               for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    errors = [o for steps in outcome.values() for o in steps if o[0] == "error"]
    assert errors == []

    # never over capacity: counted from the database, per slot and per place
    per_slot = dict(session.execute(
        select(Slot.label, func.count(Order.id)).join(Place, Place.slot_id == Slot.id)
        .join(Order, Order.place_id == Place.id).group_by(Slot.label)).all())
    assert sum(per_slot.values()) == capacity  # every place used, none twice
    for label in labels:
        slot = shelving.get_slot(session, label, "main")
        assert per_slot[label] == slot.capacity

    # no order lost: each is either on the slot it was told, or refused and untouched
    shelved = {oid for oid, steps in outcome.items() if steps[-1][0] == "on"}
    assert len(shelved) == capacity and len(outcome) == len(ids)
    rows = session.scalars(select(Order).where(Order.id.in_(ids))).all()
    assert len(rows) == len(ids)
    for order in rows:
        if order.id in shelved:
            assert order.status == OrderStatus.READY
            assert order.slot_label == outcome[order.id][-1][1]
            assert order.place.slot.label == order.slot_label
        else:
            assert order.status == OrderStatus.RECEIVED and order.place_id is None
            assert [kind for kind, _ in outcome[order.id]] == ["full"] * len(labels)
    audit = Counter(e.action for o in rows for e in o.audit)
    assert audit["shelved"] == capacity
