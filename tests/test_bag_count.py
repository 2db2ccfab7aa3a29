"""A bag packed short tells the patron what is in it: its items and titles, not the order's."""

from __future__ import annotations

import pytest
from factories import ACTOR, make_order

from kiosk.domain import orders as order_ops
from kiosk.domain import shelving
from kiosk.domain.lookup import find_pickups
from kiosk.extensions import db
from kiosk.outage import snapshot

CARD = "N000000411"


@pytest.fixture
def config_overrides():
    return {"kiosk": {"rate_limit": "off", "show_titles": True}}


def pack_short(session, station, card: str, items: int, packed: int, slot: str):
    """Create an order of items, pack the first `packed` of them with a reason, shelve it."""
    order = make_order(session, card=card, items=items)
    for item in order.items[:packed]:
        order_ops.pack_item(session, order, item.barcode, ACTOR)
    order_ops.finish_packing(session, order, ACTOR, "one copy is lost")
    shelving.shelve(session, order, shelving.get_slot(session, slot, "main"), ACTOR,
                    station.calendar, 7)
    session.commit()
    return order


def test_a_bag_packed_short_counts_the_items_in_it(app, session, station):
    short = pack_short(session, station, CARD, items=4, packed=3, slot="A-01")
    whole = make_order(session, card=CARD, items=2, slot="A-02", station=station)
    found = {p.order_id: p for p in find_pickups(session, CARD, "main", show_titles=True).pickups}
    assert found[short.id].items == 3
    assert found[short.id].titles == [i.title for i in short.items[:3]]
    assert found[whole.id].items == 2  # packed whole (shelved at once): every item counts
    answer = app.test_client().post("/kiosk/scan", json={"code": CARD}).get_json()
    assert {p["order_id"]: p["items"] for p in answer["pickups"]} == {short.id: 3, whole.id: 2}


def test_the_outage_snapshot_counts_as_the_scan_does(app, session, station, tmp_path):
    short = pack_short(session, station, CARD, items=4, packed=3, slot="A-01")
    with db.engine.connect() as conn:
        data = snapshot.build("main", snapshot.read_orders(conn, "main", titles=True), 1.0)
    path = tmp_path / "snapshot.db"
    snapshot.write(path, data)
    offline = snapshot.lookup(snapshot.load(path, "main"), CARD, show_titles=True)
    assert [p.items for p in offline.pickups] == [3]
    assert offline.as_dict() == find_pickups(session, CARD, "main", show_titles=True).as_dict()
    assert offline.pickups[0].order_id == short.id
