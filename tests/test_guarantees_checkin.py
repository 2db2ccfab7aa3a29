"""The check-in queue's guarantees at shelving, against pysip2 answering as Koha does.

Found by mutation testing (scripts/mutation.sh ils/checkin.py, docs/testing.md): which
orders are checked in at all, that every item of a bag is queued when the ILS is away,
that "the same day" is the station's local day, and that a later day's check-in starts
with fresh attempts.
"""

from __future__ import annotations

import datetime as dt
import logging
from types import SimpleNamespace

import pytest
from factories import ACTOR, make_order
from helpers_sip2 import PATRON_CARD, Hold, ils_config
from sqlalchemy.orm import Session

from kiosk.extensions import db
from kiosk.ils import attach, checkin, queue
from kiosk.models import IlsJob, Order, utcnow

CARD = PATRON_CARD
TOKEN = "checkin-token-0123456789abcdefghij"


@pytest.fixture
def extra() -> dict:
    return {"holds_from_ils": True}


@pytest.fixture
def config_overrides(proxy, tmp_path, extra):
    return {"ils": ils_config(proxy.port, tmp_path, **extra), "kiosk": {"rate_limit": "off"}}


@pytest.fixture
def api(client, station, tmp_path):
    tokens = tmp_path / "api-tokens"
    tokens.write_text(TOKEN + "\n")
    station.settings.api.tokens_file = str(tokens)
    return client


def put(api, order_id: int, slot: str) -> tuple[int, dict]:
    """Shelve through the API (an imported order needs no packing there)."""
    r = api.post(f"/api/v1/orders/{order_id}/shelve", json={"slot": slot},
                 headers={"Authorization": f"Bearer {TOKEN}"})
    return r.status_code, r.get_json()


def checkin_jobs(session) -> list[IlsJob]:
    session.expire_all()
    return session.query(IlsJob).filter_by(kind="checkin").order_by(IlsJob.id).all()


def test_which_orders_are_checked_in_at_shelving(session, station):
    """An item bag with holds_from_ils or checkin_on_shelve; any other order only with
    checkin_on_shelve; nothing without items or without a SIP2 library system."""
    bag = make_order(session, card=CARD, items=1)
    bag.source = "ils"
    imported = make_order(session, card=CARD, items=1)
    empty = SimpleNamespace(items=[], source="ils")  # no order is made without items

    def ils(kind="sip2", holds=False, on_shelve=False):
        return SimpleNamespace(kind=kind, holds_from_ils=holds, checkin_on_shelve=on_shelve)

    assert checkin.wanted(bag, ils(holds=True))
    assert checkin.wanted(bag, ils(on_shelve=True))
    assert not checkin.wanted(bag, ils())
    assert not checkin.wanted(imported, ils(holds=True))
    assert checkin.wanted(imported, ils(on_shelve=True))
    assert not checkin.wanted(empty, ils(holds=True, on_shelve=True))
    assert not checkin.wanted(bag, ils(kind="none", holds=True, on_shelve=True))
    assert not checkin.wanted(imported, ils(kind="none", on_shelve=True))


def test_with_holds_from_ils_only_an_imported_order_is_shelved_without_a_check_in(
        api, session, station, library, proxy):
    order = make_order(session, card=CARD, items=2, status="packing")
    status, body = put(api, order.id, "A-01")
    assert (status, body["slot"]) == (200, "A-01"), body
    assert library.checkins == [] and checkin_jobs(session) == []


@pytest.mark.parametrize("extra", [{"checkin_on_shelve": True}])
def test_with_the_ils_away_every_item_of_the_bag_is_queued_and_sent_once_later(
        session, station, library, server, proxy, extra, caplog):
    order = make_order(session, card=CARD, items=3, status="packing")
    barcodes = [i.barcode for i in order.items]
    for barcode in barcodes:
        library.holds[barcode] = Hold(CARD)
    server.stop()
    with caplog.at_level(logging.INFO, logger="kiosk.ils.checkin"):
        [note] = station.before_shelving(session, order, ACTOR)  # the API's and staff's hook
    # IT's log says once why, with the link's own reason.
    assert [r.getMessage() for r in caplog.records if r.name == "kiosk.ils.checkin"] == [
        "ILS unavailable at shelving (the ILS closed the connection); check-ins queued"]
    assert str(note) == (f"Check-in of {', '.join(barcodes)} queued: the library system did "
                         "not answer; it is sent when the link is back")
    # No card yet: a check-in job learns the hold patron's card from the ILS's answer.
    assert [(j.item_barcode, j.state, j.attempts, j.card) for j in checkin_jobs(session)] == [
        (b, "queued", 0, "") for b in barcodes]
    # The first failure stops the tries: one attempt to reach the ILS, not one per item.
    assert proxy.requests == [] and proxy.connections == 1, proxy.connections
    server.start()
    proxy.upstream_port = server.port
    station.ils.connect()
    assert len(queue.replay(session, station.ils).done) == 3
    assert [r.item_identifier for r in library.checkins] == barcodes


@pytest.mark.parametrize("extra", [{"checkin_on_shelve": True}])
def test_a_refused_item_stops_the_shelving_and_names_only_itself(
        api, session, station, library, proxy, extra):
    order = make_order(session, card=CARD, items=2, status="packing")
    first, second = (i.barcode for i in order.items)
    library.holds[first] = Hold(CARD)
    library.refuse_checkin[second] = "Eksemplaret er trukket tilbake"
    status, body = put(api, order.id, "A-01")
    assert status == 409 and body["detail"]["kind"] == "checkin_refused"
    assert body["detail"]["items"] == [{"barcode": second, "alert": None, "destination": None,
                                        "message": "Eksemplaret er trukket tilbake"}]
    assert session.get(Order, order.id).place_id is None
    assert [(j.item_barcode, j.state) for j in checkin_jobs(session)] == [
        (first, "done"), (second, "refused")]


def test_a_later_day_check_in_starts_with_fresh_attempts(app, session, station, library, proxy):
    bag = make_order(session, card=CARD, items=1, status="packing")
    library.holds[bag.items[0].barcode] = Hold(CARD)
    link = attach(station)
    today = dt.date.today()
    checkin.check_in(session, bag, link, today)
    [job] = checkin_jobs(session)
    assert (job.state, job.attempts) == ("done", 1)
    outcome = checkin.check_in(session, bag, link, today + dt.timedelta(days=1))
    assert outcome.items == {bag.items[0].barcode: "checked_in"} and not outcome.problems
    [job] = checkin_jobs(session)
    assert (job.state, job.attempts, job.alert) == ("done", 1, "01")
    assert len(library.checkins) == 2


def test_the_same_day_is_the_stations_local_day(app, session, station, library, proxy,
                                                in_oslo):
    """A check-in at 23:30 UTC in winter is at 00:30 in Oslo: that day, not the UTC one."""
    bag = make_order(session, card=CARD, items=1, status="packing")
    library.holds[bag.items[0].barcode] = Hold(CARD)
    link = attach(station)
    checkin.check_in(session, bag, link, dt.date(2027, 1, 16))
    [job] = checkin_jobs(session)
    job.done_at = dt.datetime(2027, 1, 15, 23, 30, tzinfo=dt.UTC)
    session.commit()
    checkin.check_in(session, bag, link, dt.date(2027, 1, 16))  # 00:30 local: the same day
    assert len(library.checkins) == 1
    checkin.check_in(session, bag, link, dt.date(2027, 1, 17))
    assert len(library.checkins) == 2
    assert checkin._local_day(None) is None
    assert checkin._local_day(dt.datetime(2027, 1, 15, 23, 30)) == dt.date(2027, 1, 16)
    assert checkin._local_day(dt.datetime(2027, 1, 15, 23, 30, tzinfo=dt.UTC)) == dt.date(
        2027, 1, 16)


def test_a_check_in_another_station_made_a_moment_ago_is_taken_not_made_twice(
        session, station, library, proxy, monkeypatch):
    """Two stations shelve the same bag at once: the one whose new job loses to the unique
    key takes the other's job (checked in today: nothing more to send)."""
    bag = make_order(session, card=CARD, items=1, status="packing")
    item_id, barcode = bag.items[0].id, bag.items[0].barcode
    library.holds[barcode] = Hold(CARD)
    looked = queue.job_of

    def the_other_station_is_first(s, item, kind):
        if looked(s, item, kind) is None:  # between our look and our write, it checks in
            with Session(db.engine) as other:
                other.add(IlsJob(kind="checkin", order_id=bag.id, item_id=item_id, card=CARD,
                                 item_barcode=barcode, state="done", attempts=1,
                                 done_at=utcnow()))
                other.commit()
            return None
        return looked(s, item, kind)

    monkeypatch.setattr(queue, "job_of", the_other_station_is_first)
    outcome = checkin.check_in(session, bag, attach(station), dt.date.today())
    assert outcome.items == {barcode: "checked_in"} and not outcome.problems
    assert [(j.state, j.card, j.attempts) for j in checkin_jobs(session)] == [("done", CARD, 1)]
    assert library.checkins == []  # the other station's check-in is not sent again
