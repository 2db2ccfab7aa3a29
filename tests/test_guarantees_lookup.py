"""The guarantees of kiosk.domain.lookup beyond tests/test_lookup.py, on the real database."""

from __future__ import annotations

import json

from factories import make_order

from kiosk.domain import lookup
from kiosk.extensions import db
from kiosk.models import OrderStatus

CARD = "N000000042"


def test_the_name_is_the_first_one_any_open_order_carries(session, station):
    make_order(session, card=CARD, slot="A-01", station=station)
    named = make_order(session, card=CARD, slot="A-02", station=station)
    named.patron_name = "Kari Nordmann"
    session.commit()
    assert lookup.find_pickups(session, CARD, "main", show_names=True).name == "Kari Nordmann"
    waiting = make_order(session, card="N000000043")  # only still being packed: named too
    waiting.patron_name = "Ola"
    session.commit()
    result = lookup.find_pickups(session, "N000000043", "main", show_names=True)
    assert (result.outcome, result.name) == ("waiting", "Ola")


def test_titles_are_those_of_each_bag_in_item_order_and_untitled_items_are_left_out(
        session, station):
    first = make_order(session, card=CARD, items=3, slot="A-01", station=station)
    first.items[1].title = None
    second = make_order(session, card=CARD, items=1, slot="A-02", station=station)
    make_order(session, card=CARD)  # being packed: its titles are not shown
    session.commit()
    result = lookup.find_pickups(session, CARD, "main", show_titles=True)
    assert [p.titles for p in result.pickups] == [
        [first.items[0].title, first.items[2].title], [second.items[0].title]]
    assert [p.items for p in result.pickups] == [3, 1]  # the count has every item


def test_the_answer_is_plain_json_all_the_way_down(session, station):
    order = make_order(session, card=CARD, items=2, slot="A-01", station=station)
    result = lookup.find_pickups(session, CARD, "main", show_titles=True)
    result.notices.append("pin_required")
    result.offer = {"title": "E-bøker", "qr": [lookup.Pickup(1, "X", "A-01", "A", 1, None)]}
    plain = result.as_dict()
    assert json.loads(json.dumps(plain)) == plain
    assert plain["pickups"] == [{
        "order_id": order.id, "pickup_code": order.pickup_code, "slot": "A-01", "shelf": "A",
        "items": 2, "deadline": order.deadline.isoformat(),
        "titles": [i.title for i in order.items]}]
    assert plain["offer"]["qr"][0]["slot"] == "A-01" and plain["notices"] == ["pin_required"]
    assert list(plain) == ["outcome", "pickups", "waiting", "name", "notices", "offer",
                           "elsewhere"]


def test_a_scan_gives_its_connection_back_to_the_pool(session, station):
    make_order(session, card=CARD, slot="A-01", station=station)
    pool = db.engine.pool
    before = pool.checkedout()
    for _ in range(3):
        assert lookup.find_pickups(session, CARD, "main").outcome == "ready"
    assert pool.checkedout() == before


def test_the_same_statement_serves_every_card_and_branch(session, station):
    make_order(session, card=CARD, slot="A-01", station=station)
    make_order(session, card="N000000043", branch="other")
    lookup._COMPILED.clear()
    assert lookup.find_pickups(session, CARD, "main").outcome == "ready"
    assert lookup.find_pickups(session, "N000000043", "main").outcome == "nothing"
    assert lookup.find_pickups(session, "N000000043", "other").outcome == "waiting"
    assert lookup.find_pickups(session, CARD, "other").outcome == "nothing"
    assert list(lookup._COMPILED) == [db.engine.dialect.name]


def test_a_ready_order_without_slot_or_last_day_shows_them_empty_not_made_up(session, station):
    order = make_order(session, card=CARD)
    order.status = OrderStatus.READY  # as an older station or a hand fix may leave it
    order.slot_label, order.deadline = None, None
    session.commit()
    result = lookup.find_pickups(session, CARD, "main")
    assert result.outcome == "ready"
    assert (result.pickups[0].slot, result.pickups[0].shelf, result.pickups[0].deadline) \
        == ("", "", None)
