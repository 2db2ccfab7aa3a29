"""Two stations (two apps) on one database see each other's changes at once."""

from __future__ import annotations

import pytest
from factories import ACTOR, make_order

from kiosk import create_app
from kiosk.domain import orders as order_ops
from kiosk.domain import shelving
from kiosk.extensions import db


@pytest.fixture
def second_entrance(make_settings, app):
    """A second station of the same branch on the same database, with its own app."""
    other = create_app(make_settings({"station": {"name": "Second entrance"}}),
                       {"TESTING": True, "WTF_CSRF_ENABLED": False})
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


# Objects loaded through one app's session are touched only outside the other
# app's context: Flask-SQLAlchemy binds a session to the current app's engine.


def scan(app, card: str) -> dict:
    return app.test_client().post("/kiosk/scan", json={"code": card}).get_json()


def test_a_bag_shelved_at_one_entrance_shows_at_the_other(app, session, station,
                                                          second_entrance):
    order = make_order(session, card="N200000001")
    assert scan(second_entrance, "N200000001")["pickups"] == []
    shelving.shelve(session, order, shelving.get_slot(session, "B-03", "main"), ACTOR,
                    station.calendar, 7)
    session.commit()
    body = scan(second_entrance, "N200000001")
    assert body["outcome"] == "ready"
    assert [p["slot"] for p in body["pickups"]] == ["B-03"]
    assert second_entrance.extensions["station"].name == "Second entrance"


def test_a_collection_at_one_entrance_empties_the_other_screen(app, session, station,
                                                               second_entrance):
    order_id = make_order(session, card="N200000002", slot="A-02", station=station).id
    assert scan(app, "N200000002")["outcome"] == "ready"
    with second_entrance.app_context():
        other = db.session
        order_ops.collect(other, order_ops.get(other, order_id), ACTOR)
        other.commit()
    assert scan(app, "N200000002")["pickups"] == []


def test_both_stations_fill_one_slot_without_overfilling_it(app, session, station,
                                                            second_entrance):
    first = [make_order(session, card=f"N20000010{i}") for i in range(2)]
    slot = shelving.get_slot(session, "A-04", "main")  # capacity 2
    shelving.shelve(session, first[0], slot, ACTOR, station.calendar, 7)
    session.commit()
    second_id = first[1].id
    with second_entrance.app_context():
        other = db.session
        there = order_ops.get(other, second_id)
        shelving.shelve(other, there, shelving.get_slot(other, "A-04", "main"), ACTOR,
                        station.calendar, 7)
        other.commit()
    third = make_order(session, card="N200000109")
    with pytest.raises(shelving.SlotFull):
        shelving.shelve(session, third, shelving.get_slot(session, "A-04", "main"), ACTOR,
                        station.calendar, 7)
