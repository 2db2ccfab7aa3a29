"""The durable checkout queue: the ILS away, the station restarted, every item lent once."""

from __future__ import annotations

import time

import pytest
from factories import make_order
from helpers_sip2 import PATRON_CARD, Patron, ils_config
from staff_helpers import login

from kiosk import create_app
from kiosk.appsetup import session_scope
from kiosk.extensions import db
from kiosk.ils import attach, queue, runtime
from kiosk.models import IlsJob, Item, Order

CARD = PATRON_CARD


@pytest.fixture
def config_overrides(proxy, tmp_path):
    return {"ils": ils_config(proxy.port, tmp_path)}


def collect_at_kiosk(client, order) -> dict:
    event_id = client.post("/kiosk/scan", json={"code": order.card}).get_json()["event_id"]
    response = client.post("/kiosk/collect", json={"event_id": event_id, "order_id": order.id})
    assert response.status_code == 200
    return response.get_json()


def restarted_station(make_settings, config_overrides, old_app):
    """Close the old station's link and build a new app on the same database."""
    old_app.extensions["station"].ils.close()
    app = create_app(make_settings(config_overrides), {"TESTING": True})
    return app, attach(app.extensions["station"])


def jobs(app) -> list[IlsJob]:
    with app.app_context():
        return db.session.query(IlsJob).order_by(IlsJob.id).all()


def test_ils_down_for_a_while_then_replayed_once_after_restart(
        app, client, session, station, library, server, proxy, make_settings,
        config_overrides):
    orders = [make_order(session, card=CARD, items=n, slot=f"A-0{n}", station=station)
              for n in (1, 2)]
    barcodes = [i.barcode for o in orders for i in o.items]
    server.stop()  # the library system goes away
    for order in orders:
        assert collect_at_kiosk(client, order)["collected"]
    assert [j.state for j in jobs(app)] == ["queued"] * 3

    library.patrons["N000000002"] = Patron()
    server.start()  # back, on another port behind the same address
    proxy.upstream_port = server.port
    new_app, link = restarted_station(make_settings, config_overrides, app)
    try:
        runtime.tick(session_scope(new_app), link, 0.0)
        assert [(j.state, j.due_date) for j in jobs(new_app)] == [("done", "2031-01-15")] * 3
        assert library.loans == {b: CARD for b in barcodes}
        assert all(library.checkouts[b] == 1 for b in barcodes)
        runtime.tick(session_scope(new_app), link, 0.0)  # nothing left to send
        assert sum(library.checkouts.values()) == 3
        with new_app.app_context():
            assert all(i.lent_at for i in db.session.query(Item))
    finally:
        link.close()
        with new_app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize("renew_repeats", [True, False])
def test_answer_lost_after_the_ils_lent_is_not_lent_twice(
        app, client, session, station, library, proxy, make_settings, config_overrides,
        renew_repeats):
    library.renew_repeats = renew_repeats
    order = make_order(session, card=CARD, items=3, slot="A-01", station=station)
    first, *rest = [i.barcode for i in order.items]
    proxy.swallow_answer_to = "11"  # the ILS lends the first item; the station never hears
    body = collect_at_kiosk(client, order)
    assert body["collected"] and body["ils"] == "offline"
    assert [(j.state, j.attempts) for j in jobs(app)] == [("queued", 1), ("queued", 0),
                                                          ("queued", 0)]
    assert library.loans == {first: CARD}

    new_app, link = restarted_station(make_settings, config_overrides, app)
    try:
        link._retry_at = 0  # skip the back-off after the lost answer
        with session_scope(new_app)() as s:
            report = queue.replay(s, link)
        assert len(report.done) == 3 and not report.link_down
        assert library.loans == {b: CARD for b in [first, *rest]}
        assert [j.message for j in jobs(new_app)][0] == "already lent to this patron"
    finally:
        link.close()
        with new_app.app_context():
            db.engine.dispose()


def test_refused_on_replay_is_kept_for_staff(app, client, session, station, library, server,
                                            proxy):
    order = make_order(session, card=CARD, items=2, slot="A-01", station=station)
    server.stop()
    collect_at_kiosk(client, order)
    library.refuse[order.items[0].barcode] = "Låneren har for mange lån"
    server.start()
    proxy.upstream_port = server.port
    link = station.ils
    link._retry_at = 0
    report = queue.replay(session, link)
    assert len(report.refused) == 1 and len(report.done) == 1
    assert queue.counts(session) == {"queued": 0, "done": 1, "refused": 1, "failed": 0}
    refused = session.get(IlsJob, report.refused[0])
    assert refused.message == "Låneren har for mange lån"
    assert session.get(Item, refused.item_id).ils_message == refused.message


def test_a_job_never_answered_ends_failed_and_staff_can_retry(session, station, library):
    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    job = queue.job_for_item(session, order.items[0], CARD)
    job.attempts = queue.MAX_ATTEMPTS
    session.commit()
    assert queue.replay(session, station.ils).failed == [job.id]
    assert library.checkouts == {}
    assert queue.retry(session, job.id).state == "queued"
    assert queue.replay(session, station.ils).done == [job.id]
    assert library.checkouts[order.items[0].barcode] == 1


def test_background_thread_replays_when_the_ils_returns(app, client, session, station, library,
                                                       server, proxy):
    order = make_order(session, card=CARD, items=2, slot="A-01", station=station)
    server.stop()
    collect_at_kiosk(client, order)
    app.config["KIOSK_ILS_TICK_S"] = 0.05
    stop = runtime.start(app)
    try:
        server.start()
        proxy.upstream_port = server.port
        station.ils._retry_at = 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and queue.counts(session)["queued"]:
            session.expire_all()
            time.sleep(0.05)
        assert queue.counts(session) == {"queued": 0, "done": 2, "refused": 0, "failed": 0}
    finally:
        stop()
    assert station.devices["ils"].state == "disconnected"  # closed on stop


def test_staff_page_shows_queue_and_failures(app, client, session, station, library, server):
    order = make_order(session, card=CARD, items=2, slot="A-01", station=station)
    server.stop()
    collect_at_kiosk(client, order)
    assert client.get("/staff/ils/").status_code in (302, 401)
    login(client, app)
    page = client.get("/staff/ils/").get_data(as_text=True)
    assert order.items[0].barcode in page and "2 queued" in page
    assert CARD not in page  # card numbers stay off the page
    response = client.post("/staff/ils/replay", follow_redirects=True)
    assert "did not answer" in response.get_data(as_text=True)
    session.expire_all()
    assert session.get(Order, order.id).status == "collected"


def _toml(database_url: str, ils: dict) -> str:
    lines = ["[database]", f'url = "{database_url}"', "[ils]"]
    for key, value in ils.items():
        lines.append(f"{key} = {value!r}".replace("'", '"') if isinstance(value, str)
                     else f"{key} = {value}")
    return "\n".join(lines) + "\n"


def test_cli_ils_test_and_replay(app, client, session, station, library, server, proxy,
                                 database_url, config_overrides, tmp_path):
    from click.testing import CliRunner

    from kiosk.cli import cli

    order = make_order(session, card=CARD, items=1, slot="A-01", station=station)
    server.stop()
    collect_at_kiosk(client, order)
    config = tmp_path / "station.toml"
    config.write_text(_toml(database_url, config_overrides["ils"]))
    down = CliRunner().invoke(cli, ["--config", str(config), "ils-replay"])
    assert down.exit_code == 1 and "did not answer" in down.output
    server.start()
    proxy.upstream_port = server.port
    ok = CliRunner().invoke(cli, ["--config", str(config), "ils-test", "--card", CARD])
    assert ok.exit_code == 0, ok.output
    assert "valid=True" in ok.output and "s3cret" not in ok.output
    replayed = CliRunner().invoke(cli, ["--config", str(config), "ils-replay"])
    assert replayed.exit_code == 0 and "Sent 1" in replayed.output
    assert library.loans == {order.items[0].barcode: CARD}


def test_a_job_the_codec_cannot_carry_is_refused_at_once_and_holds_up_nothing(
        app, session, station, library):
    """A barcode stored before identifiers were checked (issue 23): refused with its reason
    on the first round, never sent, and the job behind it goes through in the same round."""
    bad, good = make_order(session, card=CARD, items=1, slot="A-01", station=station), \
        make_order(session, card=CARD, items=1, slot="A-02", station=station)
    bad.items[0].barcode = "ITEM1|AOevil|AA999"
    session.commit()
    for order in (bad, good):
        queue.job_for_item(session, order.items[0], CARD)
    session.commit()
    link = attach(station)
    report = queue.replay(session, link)
    assert len(report.refused) == 1 and len(report.done) == 1 and not report.link_down
    refused = session.query(IlsJob).filter_by(item_barcode="ITEM1|AOevil|AA999").one()
    assert refused.attempts == 0 and "cannot be sent to the library system" in refused.message
    assert library.loans == {good.items[0].barcode: CARD}
