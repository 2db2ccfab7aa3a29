"""kiosk.domain.lookup on its own: what a patron's scan finds, on the real database."""

from __future__ import annotations

import json

from factories import ACTOR, make_order

from kiosk.domain import lookup, shelving
from kiosk.domain import orders as order_ops

CARD = "N000000042"


def test_an_unknown_card_and_a_card_with_nothing_look_the_same(session, station):
    make_order(session, card=CARD, slot="A-01", station=station, status="collected")
    unknown = lookup.find_pickups(session, "N999999999", "main", show_names=True)
    nothing = lookup.find_pickups(session, CARD, "main", show_names=True)
    assert unknown.outcome == nothing.outcome == "nothing"
    assert unknown.as_dict() == nothing.as_dict() == {
        "outcome": "nothing", "pickups": [], "waiting": 0, "name": None, "notices": [],
        "offer": None, "elsewhere": []}


def test_a_bag_on_the_shelf_is_found_with_its_place_code_items_and_last_day(session, station):
    order = make_order(session, card=CARD, items=3, slot="B-02", station=station)
    result = lookup.find_pickups(session, CARD, "main")
    assert result.outcome == "ready" and result.waiting == 0
    assert result.pickups == [lookup.Pickup(
        order_id=order.id, pickup_code=order.pickup_code, slot="B-02", shelf="B", items=3,
        deadline=order.deadline.isoformat(), titles=[])]
    assert json.loads(json.dumps(result.as_dict()))["pickups"][0]["slot"] == "B-02"


def test_orders_still_being_packed_are_counted_not_shown(session, station):
    make_order(session, card=CARD)
    make_order(session, card=CARD, status="packing")
    result = lookup.find_pickups(session, CARD, "main")
    assert (result.outcome, result.pickups, result.waiting) == ("waiting", [], 2)
    make_order(session, card=CARD, slot="A-02", station=station)
    result = lookup.find_pickups(session, CARD, "main")
    assert (result.outcome, len(result.pickups), result.waiting) == ("ready", 1, 2)


def test_only_this_branch_and_only_open_orders_are_found(session, station):
    shelving.sync_shelves(session, [{"name": "A", "slots": 2, "capacity": 2}], "other")
    make_order(session, card=CARD, branch="other", slot="A-01", station=station)
    gone = make_order(session, card=CARD, slot="A-02", station=station)
    order_ops.collect(session, gone, ACTOR)
    session.commit()
    make_order(session, card=CARD, status="cancelled")
    assert lookup.find_pickups(session, CARD, "main").outcome == "nothing"
    assert lookup.find_pickups(session, CARD, "other").outcome == "ready"


def test_bags_come_in_slot_order(session, station):
    b = make_order(session, card=CARD, slot="B-01", station=station)
    a = make_order(session, card=CARD, slot="A-03", station=station)
    result = lookup.find_pickups(session, CARD, "main")
    assert [p.order_id for p in result.pickups] == [a.id, b.id]


def test_titles_and_the_name_are_shown_only_when_asked(session, station):
    order = make_order(session, card=CARD, items=2, slot="A-01", station=station)
    order.patron_name = "Kari Nordmann"
    session.commit()
    plain = lookup.find_pickups(session, CARD, "main")
    assert plain.pickups[0].titles == [] and plain.name is None
    shown = lookup.find_pickups(session, CARD, "main", show_titles=True, show_names=True)
    assert shown.pickups[0].titles == [i.title for i in order.items] and len(order.items) == 2
    assert shown.name == "Kari Nordmann"
