"""Four stations (processes) shelving 2,000 orders into the same slots at once.

The guarantee comes from the database: each slot has `capacity` places, an order
on the shelf owns one through a unique key, and shelving retries on conflicts.
Zero slots over capacity, zero lost orders: every order is either shelved exactly
once or refused as full, and every place ends up taken.
"""

from __future__ import annotations

import multiprocessing
import traceback

import pytest
from sqlalchemy import func, select

from kiosk.domain.orders import Actor
from kiosk.domain.pickup_codes import LETTERS
from kiosk.extensions import db
from kiosk.models import AuditEvent, Item, Order, Place, Slot

STATIONS = 4
ORDERS = 2000
SHELF = {"name": "R", "slots": 10, "capacity": 75}  # 750 places for 2,000 orders


def race_config(url: str, station: str) -> dict:
    return {"station": {"name": station, "branch": "main"}, "database": {"url": url},
            "shelves": [SHELF], "kiosk": {"rate_limit": "off"}, "logging": {"level": "WARNING"}}


def unique_code(n: int) -> str:
    """Return a distinct, well-formed pickup code for each n below 196,000."""
    first, rest = divmod(n, 14 * 1000)
    second, digits = divmod(rest, 1000)
    return f"{LETTERS[first]}{LETTERS[second]}-{digits:03d}"


def shelve_share(url: str, number: int, order_ids: list[int]) -> dict:
    """In a fresh process: build this station's own app and shelve its share of orders."""
    from kiosk import create_app
    from kiosk.config import parse
    from kiosk.domain import shelving

    name = f"Station {number}"
    app = create_app(parse(race_config(url, name)), {"TESTING": True})
    station = app.extensions["station"]
    actor = Actor("race", name)
    shelved, refused, errors = [], [], []
    with app.app_context():
        session = db.session
        for order_id in order_ids:
            def work(order_id=order_id):
                order = session.get(Order, order_id)
                slot = shelving.get_slot(session, f"R-{order_id % SHELF['slots'] + 1:02d}", "main")
                shelving.shelve(session, order, slot, actor, station.calendar, 7)

            try:
                shelving.with_retry(session, work)
                shelved.append(order_id)
            except shelving.SlotFull:
                refused.append(order_id)
            except Exception:
                errors.append(traceback.format_exc())
        db.engine.dispose()
    return {"shelved": shelved, "refused": refused, "errors": errors[:3]}


def add_orders(session, count: int) -> list[int]:
    orders = [Order(card=f"N{n:09d}", branch="main", status="received", source="import",
                    pickup_code=unique_code(n), items=[Item(barcode=f"R{n:06d}")])
              for n in range(count)]
    session.add_all(orders)
    session.commit()
    return [o.id for o in orders]


def run_stations(url: str, order_ids: list[int]) -> list[dict]:
    """Shelve the orders from STATIONS processes at once, interleaving their shares."""
    shares = [order_ids[i::STATIONS] for i in range(STATIONS)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(STATIONS) as pool:
        results = pool.starmap(shelve_share, [(url, i + 1, s) for i, s in enumerate(shares)])
    return results


def check_outcome(session, order_ids: list[int], results: list[dict]) -> None:
    for r in results:
        assert r["errors"] == [], r["errors"][0]
    shelved = [i for r in results for i in r["shelved"]]
    refused = [i for r in results for i in r["refused"]]
    # Zero lost orders: each one shelved exactly once or refused, none in both.
    assert sorted(shelved + refused) == sorted(order_ids)
    session.expire_all()
    per_slot = dict(session.execute(
        select(Slot.label, func.count(Order.id)).join(Place, Place.slot_id == Slot.id)
        .join(Order, Order.place_id == Place.id).group_by(Slot.label)).all())
    capacity = SHELF["capacity"]
    # Zero slots over capacity, and every place taken (a refusal meant truly full).
    assert max(per_slot.values()) == capacity and min(per_slot.values()) == capacity
    assert len(per_slot) == SHELF["slots"]
    rows = session.execute(select(Order.id, Order.status, Order.place_id, Order.slot_label)
                           .where(Order.id.in_(order_ids))).all()
    on_shelf = {r.id for r in rows if r.status == "ready"}
    assert on_shelf == set(shelved)
    assert all(r.place_id is not None and r.slot_label for r in rows if r.id in on_shelf)
    assert all(r.status == "received" and r.place_id is None for r in rows
               if r.id not in on_shelf)  # a refused order is left as it was
    audits = session.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "shelved"))
    assert audits == len(shelved)  # one audit event per bag, none from rolled-back tries


@pytest.mark.postgres_only
@pytest.mark.slow
@pytest.mark.parametrize("config_overrides", [{"shelves": [SHELF]}])
def test_four_stations_shelve_2000_orders_into_the_same_slots(app, session, database_url):
    order_ids = add_orders(session, ORDERS)
    results = run_stations(database_url, order_ids)
    check_outcome(session, order_ids, results)
    assert sum(len(r["shelved"]) for r in results) == SHELF["slots"] * SHELF["capacity"]
    assert all(r["shelved"] for r in results)  # every station got bags onto the shelf
