"""Check-in at shelving (SIP2 09/10) against pysip2 answering as Koha's SIP server does.

The test server writes its 10 answers field by field in Koha's order (helpers_sip2.
koha_checkin_frame); the first test pins that frame byte for byte as it reaches the
station, so the station is shown to parse what Koha puts on the wire.
"""

from __future__ import annotations

import datetime as dt

import pytest
from factories import make_order
from flask_babel import refresh
from helpers_sip2 import (
    INSTITUTION,
    FakeLibrary,
    Hold,
    Patron,
    ils_config,
)
from sqlalchemy import text
from staff_helpers import login

from kiosk import create_app
from kiosk.appsetup import session_scope
from kiosk.domain import orders as order_ops
from kiosk.extensions import db
from kiosk.ils import attach, runtime
from kiosk.models import AuditEvent, IlsJob, Order

CARD = "N000000001"
FETCH = {"X-Requested-With": "fetch"}
NAME = "Åse Ødegård"
FAR = "Bærum Østre Ås"  # a destination with æøå


@pytest.fixture
def encoding() -> str:
    return "utf-8"


@pytest.fixture
def library(encoding):
    lib = FakeLibrary(encoding=encoding)
    lib.patrons[CARD] = Patron(name=NAME)
    return lib


@pytest.fixture
def extra() -> dict:
    return {"holds_from_ils": True}


@pytest.fixture
def show_names() -> bool:
    return True


@pytest.fixture
def config_overrides(proxy, tmp_path, encoding, extra, show_names):
    return {"ils": ils_config(proxy.port, tmp_path, encoding=encoding, **extra),
            "kiosk": {"rate_limit": "off", "show_names": show_names}}


@pytest.fixture
def staff(client, app):
    login(client, app)
    return client


def start_bag(staff, barcode: str) -> int:
    r = staff.post("/staff/shelving", data={"code": barcode}, headers=FETCH)
    assert r.status_code == 200 and r.json["ok"], r.json
    return int(r.json["redirect"].rsplit("/", 1)[1])


def put(staff, order_id: int, slot: str):
    return staff.post(f"/staff/shelving/{order_id}", data={"slot": slot}, headers=FETCH)


def checkins(library) -> list[str]:
    return [r.item_identifier for r in library.checkins]


def jobs(session) -> list[IlsJob]:
    session.expire_all()
    return session.query(IlsJob).filter_by(kind="checkin").order_by(IlsJob.id).all()


def checksum(data: bytes) -> str:
    return f"{(-sum(data)) & 0xFFFF:04X}"


# --- the answers ---------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["utf-8", "cp850"])
def test_hold_here_shelves_the_bag_and_it_learns_its_card(staff, client, session, station,
                                                         library, server, proxy, encoding):
    library.holds["03021111111"] = Hold(CARD, NAME, "hall")
    order_id = start_bag(staff, "03021111111")
    r = put(staff, order_id, "A-01")
    assert r.status_code == 200 and r.json["slot"] == "A-01", r.json
    [request] = library.checkins
    assert (request.item_identifier, request.institution_id, request.current_location,
            request.terminal_password, request.no_block) == ("03021111111", INSTITUTION,
                                                             "hall", "term", "N")
    order = session.get(Order, order_id)
    assert (order.status, order.card, order.patron_name) == ("ready", CARD, NAME)
    [job] = jobs(session)
    assert (job.state, job.alert, job.card, job.attempts) == ("done", "01", CARD, 1)
    assert "checked_in" in [a.action for a in order.audit]

    # The frame on the wire is Koha's: its field order, CR LF, the request's sequence
    # number, the checksum over the encoded bytes.
    sent = [f for f in proxy.requests if f.startswith(b"09")][-1]
    sequence = sent[sent.rindex(b"AY") + 2:sent.rindex(b"AY") + 3]
    answer = [f for f in proxy.answers if f.lstrip(b"\n").startswith(b"10")][-1]
    stamp = answer.lstrip(b"\n")[6:24]
    body = ("100NNY" + stamp.decode("ascii") + "AOtestlib|AB03021111111|AQmain|AJSult|"
            "CS839.8 Ham|CYN000000001|CThall|DAÅse Ødegård|CV01|AFItem not checked out|"
            ).encode(encoding) + b"AY" + sequence + b"AZ"
    assert answer.lstrip(b"\n") + b"\n" == body + checksum(body).encode("ascii") + b"\r\n"

    # The card is the bag's now: with the ILS away, the kiosk still finds the bag.
    server.stop()
    shown = client.post("/kiosk/scan", json={"code": CARD}).get_json()
    assert [p["slot"] for p in shown["pickups"]] == ["A-01"]


@pytest.mark.parametrize("encoding", ["utf-8", "cp850"])
def test_hold_for_another_library_is_refused_with_its_destination(staff, session, station,
                                                                  library, proxy, encoding):
    library.holds["03022222221"] = Hold(CARD, NAME, FAR)
    order_id = start_bag(staff, "03022222221")
    r = put(staff, order_id, "A-01")
    assert r.status_code == 409 and not r.json["ok"]
    assert r.json["message"] == ("Not shelved: Item 03022222221 is on hold for another "
                                 f"library: send to {FAR}.")
    order = session.get(Order, order_id)
    assert (order.place_id, order.card) == (None, None)
    [job] = jobs(session)
    assert (job.state, job.alert, job.destination) == ("refused", "02", FAR)
    assert [a.action for a in order.audit][-1] == "checkin_refused"


def test_no_hold_is_refused_back_to_the_shelves(staff, session, station, library, proxy):
    library.checked_in_ok = True  # Koha answers ok=1 without an alert
    order_id = start_bag(staff, "03023333331")
    r = put(staff, order_id, "A-01")
    assert r.status_code == 409
    assert r.json["message"] == ("Not shelved: Item 03023333331 is not on hold: back to "
                                 "the shelves.")
    assert session.get(Order, order_id).place_id is None


def test_ok_0_is_refused_with_the_ils_message(staff, session, station, library, proxy):
    library.refuse_checkin["03024444441"] = "Eksemplaret er trukket tilbake"
    order_id = start_bag(staff, "03024444441")
    r = put(staff, order_id, "A-01")
    assert r.status_code == 409
    assert r.json["message"] == ("Not shelved: The library system refused to check in item "
                                 "03024444441: Eksemplaret er trukket tilbake.")
    [job] = jobs(session)
    assert (job.state, job.message) == ("refused", "Eksemplaret er trukket tilbake")
    # staff sort it out in the ILS; shelving again checks it in again
    del library.refuse_checkin["03024444441"]
    library.holds["03024444441"] = Hold(CARD)
    assert put(staff, order_id, "A-01").status_code == 200
    assert checkins(library) == ["03024444441"] * 2


def test_refusal_in_norwegian(staff, session, station, library, proxy):
    library.holds["03025555551"] = Hold(CARD, NAME, FAR)
    order_id = start_bag(staff, "03025555551")
    refresh()  # the test's app context keeps the language of earlier requests
    r = staff.post(f"/staff/shelving/{order_id}?lang=nb", data={"slot": "A-01"}, headers=FETCH)
    assert r.json["message"] == ("Ikke satt på hylla: Eksemplar 03025555551 er reservert til "
                                 f"et annet bibliotek: send til {FAR}.")


@pytest.mark.parametrize("extra", [{"checkin_on_shelve": True}])
def test_two_refusals_read_as_one_message_on_the_shelving_page(staff, session, station,
                                                                library, proxy, extra):
    """The lead keeps its capital, so does each item's refusal after it (words rule)."""
    order = make_order(session, card=CARD, items=2, status="packing")
    first, second = (i.barcode for i in order.items)
    for barcode in (first, second):
        order_ops.pack_item(session, order, barcode, order_ops.Actor("t", "t"))
    order_ops.finish_packing(session, order, order_ops.Actor("t", "t"))
    session.commit()
    library.holds[first] = Hold(CARD, pickup=FAR)  # the second is on no hold at all
    library.checked_in_ok = True
    refresh()
    r = staff.post(f"/staff/shelving/{order.id}?lang=nb", data={"slot": "A-01"},
                   headers=FETCH)
    assert r.status_code == 409
    assert r.json["message"] == (
        f"Ikke satt på hylla: Eksemplar {first} er reservert til et annet bibliotek: send til "
        f"{FAR}. Eksemplar {second} er ikke reservert: tilbake på hyllene.")


# --- exactly once ----------------------------------------------------------------------

def test_moved_or_reshelved_the_same_day_is_not_checked_in_again(staff, session, station,
                                                                 library, proxy):
    library.holds["03026666661"] = Hold(CARD)
    order_id = start_bag(staff, "03026666661")
    assert put(staff, order_id, "A-01").status_code == 200
    assert put(staff, order_id, "A-02").json["slot"] == "A-02"  # moved
    r = staff.post(f"/staff/orders/{order_id}/unshelve", headers=FETCH)
    assert r.status_code == 200, r.json
    assert put(staff, order_id, "A-03").json["slot"] == "A-03"  # off and on again
    assert checkins(library) == ["03026666661"]
    # staff ask for it: "Check in again" on /staff/ils/
    [job] = jobs(session)
    page = staff.get("/staff/ils/").get_data(as_text=True)
    assert "Checked in lately" in page and "Waits here for its patron" in page
    assert staff.post(f"/staff/ils/jobs/{job.id}/retry").status_code == 302
    staff.post("/staff/ils/replay")
    assert checkins(library) == ["03026666661"] * 2


def test_a_bag_moved_on_a_later_day_is_not_checked_in_again_but_one_shelved_again_is(
        staff, session, station, library, proxy):
    library.holds["03026666662"] = Hold(CARD)
    order_id = start_bag(staff, "03026666662")
    assert put(staff, order_id, "A-01").status_code == 200
    [job] = jobs(session)
    job.done_at -= dt.timedelta(days=1)  # checked in yesterday
    session.commit()
    assert put(staff, order_id, "A-02").json["slot"] == "A-02"  # moved today: still waiting
    assert checkins(library) == ["03026666662"]
    r = staff.post(f"/staff/orders/{order_id}/unshelve", headers=FETCH)
    assert r.status_code == 200, r.json
    assert put(staff, order_id, "A-03").json["slot"] == "A-03"  # off, and on again today
    assert checkins(library) == ["03026666662"] * 2


def test_a_later_day_checks_the_item_in_anew(app, session, station, library, proxy):
    from kiosk.ils import checkin

    bag = make_order(session, card=CARD, items=1, status="packing")  # taken off the shelf
    library.holds[bag.items[0].barcode] = Hold(CARD)
    link = attach(station)
    today = dt.date.today()
    checkin.check_in(session, bag, link, today)
    checkin.check_in(session, bag, link, today)
    assert len(library.checkins) == 1
    checkin.check_in(session, bag, link, today + dt.timedelta(days=1))
    assert len(library.checkins) == 2


def test_ils_down_queues_the_check_in_and_replays_it_once_after_a_restart(
        app, staff, session, station, library, server, proxy, make_settings, config_overrides):
    library.holds["03027777771"] = Hold(CARD, NAME)
    server.stop()
    order_id = start_bag(staff, "03027777771")
    r = put(staff, order_id, "A-01")
    assert r.status_code == 200 and r.json["slot"] == "A-01"
    assert "Check-in of 03027777771 queued" in r.json["message"]
    [job] = jobs(session)
    assert (job.state, job.attempts) == ("queued", 0)
    page = staff.get("/staff/ils/").get_data(as_text=True)
    assert "Check-ins: 1 queued" in page and "03027777771" in page

    server.start()
    proxy.upstream_port = server.port
    app.extensions["station"].ils.close()
    new_app = create_app(make_settings(config_overrides), {"TESTING": True})
    link = attach(new_app.extensions["station"])
    try:
        runtime.tick(session_scope(new_app), link, 0.0)
        runtime.tick(session_scope(new_app), link, 0.0)
        assert checkins(library) == ["03027777771"]
        [job] = jobs(session)
        assert (job.state, job.alert, job.card) == ("done", "01", CARD)
        assert session.get(Order, order_id).card == CARD  # the answer, applied when it came
    finally:
        link.close()
        with new_app.app_context():
            db.engine.dispose()


def test_a_refusal_that_comes_late_is_shown_to_staff(staff, app, session, station, library,
                                                     server, proxy):
    library.holds["03028888881"] = Hold(CARD, NAME, FAR)
    server.stop()
    order_id = start_bag(staff, "03028888881")
    assert put(staff, order_id, "A-01").status_code == 200
    server.start()
    proxy.upstream_port = server.port
    station.ils.connect()  # now, not after the link's back-off
    staff.post("/staff/ils/replay")
    page = staff.get("/staff/ils/").get_data(as_text=True)
    assert f"send to {FAR}" in page
    assert session.query(AuditEvent).filter_by(order_id=order_id,
                                               action="checkin_refused").count() == 1


# --- orders, the API, the names ------------------------------------------------------

@pytest.mark.parametrize("extra", [{"checkin_on_shelve": True}])
def test_checkin_on_shelve_checks_in_imported_orders_through_the_api(
        client, session, station, library, proxy, tmp_path, extra, app):
    tokens = tmp_path / "api-tokens"
    tokens.write_text("checkin-token-0123456789abcdefghij\n")
    station.settings.api.tokens_file = str(tokens)
    headers = {"Authorization": "Bearer checkin-token-0123456789abcdefghij"}
    order = make_order(session, card=CARD, items=2, status="packing")
    first, second = (i.barcode for i in order.items)
    library.holds[first] = Hold(CARD)
    library.holds[second] = Hold(CARD, pickup=FAR)
    r = client.post(f"/api/v1/orders/{order.id}/shelve", json={"slot": "B-01"},
                    headers=headers)
    assert r.status_code == 409
    assert r.get_json()["detail"]["items"] == [
        {"barcode": second, "alert": "02", "destination": FAR, "message": None}]
    del library.holds[second]
    library.holds[second] = Hold(CARD)
    r = client.post(f"/api/v1/orders/{order.id}/shelve", json={"slot": "B-01"},
                    headers=headers)
    assert r.status_code == 200 and r.get_json()["slot"] == "B-01"
    assert checkins(library) == [first, second, second]  # the first went through once


@pytest.mark.parametrize("show_names", [False])
def test_names_are_kept_only_with_show_names(staff, session, station, library, proxy,
                                             show_names):
    library.holds["03029999991"] = Hold(CARD, NAME)
    order_id = start_bag(staff, "03029999991")
    assert put(staff, order_id, "A-01").status_code == 200
    order = session.get(Order, order_id)
    assert (order.card, order.patron_name) == (CARD, None)
    assert NAME not in " ".join(a.detail or "" for a in order.audit)


def test_the_migration_keeps_the_checkout_queue(app, session):
    """Downgrade to 0002, queue a checkout the old way, upgrade: the job is there, as a checkout."""
    from flask_migrate import downgrade, upgrade

    directory = app.extensions["migrate"].directory
    order = make_order(session, card=CARD, items=1)
    item_id = order.items[0].id
    session.close()
    with app.app_context():
        downgrade(directory=directory, revision="0002")
        db.session.execute(text(
            "INSERT INTO checkout_jobs (id, order_id, item_id, card, item_barcode, state, "
            "attempts, created_at) VALUES (7, :o, :i, :c, 'X1', 'queued', 1, :t)"),
            {"o": order.id, "i": item_id, "c": CARD, "t": dt.datetime.now(dt.UTC)})
        db.session.commit()
        upgrade(directory=directory)
        db.session.add(IlsJob(kind="checkin", order_id=order.id, item_id=item_id, card="",
                              item_barcode="X1", state="queued", attempts=0))
        db.session.commit()
        rows = db.session.execute(text(
            "SELECT id, kind, card, state, attempts FROM ils_jobs ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(7, "checkout", CARD, "queued", 1),
                                        (8, "checkin", "", "queued", 0)]


def test_a_queued_check_in_goes_out_before_the_queued_checkout_of_the_item(
        staff, session, station, library, server, proxy):
    library.holds["03020000001"] = Hold(CARD)
    server.stop()
    order_id = start_bag(staff, "03020000001")
    assert put(staff, order_id, "A-01").status_code == 200
    code = session.get(Order, order_id).pickup_code
    r = staff.post("/staff/collect", data={"code": code, "card": CARD}, headers=FETCH)
    assert r.json["ok"], r.json  # lent to the card given at the desk: queued
    server.start()
    proxy.upstream_port = server.port
    station.ils.connect()
    staff.post("/staff/ils/replay")
    sent = [f[:2] for f in proxy.requests if f[:2] in (b"09", b"11")]
    assert sent == [b"09", b"11"] and library.loans == {"03020000001": CARD}


def test_the_ils_page_shows_check_ins_in_norwegian(staff, session, station, library, proxy):
    library.holds["03020000011"] = Hold(CARD)
    library.holds["03020000012"] = Hold(CARD, pickup=FAR)
    assert put(staff, start_bag(staff, "03020000011"), "A-01").status_code == 200
    assert put(staff, start_bag(staff, "03020000012"), "A-02").status_code == 409
    refresh()
    page = " ".join(staff.get("/staff/ils/?lang=nb").get_data(as_text=True).split())
    for norsk in ("Innsjekkinger: 0 i kø, 1 sjekket inn, 1 avvist", "Venter på låneren her",
                  f"Reservert til et annet bibliotek: send til {FAR}", "Sjekk inn igjen"):
        assert norsk in page
    for english in ("Check-ins", "Waits here", "send to", "Check in again", "check-in<"):
        assert english not in page


def test_the_hold_card_is_forgotten_with_the_orders_card(staff, session, station, library,
                                                         proxy):
    from kiosk.domain.clearance import anonymise_closed
    from kiosk.domain.orders import Actor, collect

    library.holds["03020000021"] = Hold(CARD)
    order_id = start_bag(staff, "03020000021")
    assert put(staff, order_id, "A-01").status_code == 200
    collect(session, session.get(Order, order_id), Actor("test", "test"))
    session.commit()
    assert anonymise_closed(session, 30, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31))
    session.commit()
    [job] = jobs(session)
    assert (job.card, session.get(Order, order_id).card) == ("", None)


def test_the_desk_needs_no_card_scan_for_a_bag_checked_in(staff, session, station, library,
                                                          proxy):
    library.holds["03020000031"] = Hold(CARD)
    order_id = start_bag(staff, "03020000031")
    assert put(staff, order_id, "A-01").status_code == 200
    code = session.get(Order, order_id).pickup_code
    r = staff.post("/staff/collect", data={"code": code}, headers=FETCH)
    assert r.json["ok"], r.json
    assert library.loans == {"03020000031": CARD}
