"""The fleet page: two stations on one database see each other's heartbeats."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import time

import pytest
from factories import make_order
from flask_babel import refresh
from sqlalchemy import select
from staff_helpers import login
from test_printer import PAPER_OUT, PrinterStandIn
from test_webhooks_stations import KIOSK, free_port, wait_for

from kiosk import create_app
from kiosk.devices.runtime import build_printer
from kiosk.extensions import db
from kiosk.fleet.heartbeat import StationHeartbeat
from kiosk.fleet.runtime import beat_now
from kiosk.models import IlsJob


@pytest.fixture
def printer():
    stand_in = PrinterStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture
def second(make_settings, printer):
    """A second station on the same database, with a network printer out of paper."""
    other = create_app(make_settings({
        "station": {"name": "Bekkestua", "branch": "bekkestua"},
        "printer": {"kind": "escpos-network", "host": "127.0.0.1", "port": printer.port,
                    "timeout_s": 2.0}}), {"TESTING": True})
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


def row(page: str, station: str) -> str:
    start = page.index(f'data-station="{station}"')
    return page[start:page.index("</tr>", start)]


def test_a_printer_out_of_paper_at_one_station_shows_on_the_others_page(app, second, printer,
                                                                        session):
    printer.status = PAPER_OUT
    there = second.extensions["station"]
    build_printer(second.config["KIOSK_SETTINGS"], there).check()  # asks the real sensor
    assert there.devices["printer"].state == "error"
    order = make_order(session)
    session.add(IlsJob(order_id=order.id, card=order.card, item_barcode="x"))
    session.commit()
    second.test_client().post("/kiosk/scan", json={"code": "N000000042"})
    beat_now(second)
    beat_now(app)
    staff = app.test_client()
    login(staff, app)
    page = staff.get("/staff/stations").get_data(as_text=True)
    other = row(page, "Bekkestua")
    assert 'data-state="yellow"' in other and "out of paper" in other
    assert "A device needs attention" in other and "bekkestua" in other
    assert "second ago" in other or "seconds ago" in other  # its last scan
    assert "<td>1</td>" in other  # one checkout waiting
    assert 'data-state="green"' in row(page, "Test station")
    refresh()  # the test's open app context keeps the locale of its first request
    norsk = staff.get("/staff/stations?lang=nb").get_data(as_text=True)
    assert "tomt for papir" in row(norsk, "Bekkestua")
    refresh()
    assert "Ei eining treng tilsyn" in row(staff.get("/staff/stations?lang=nn")
                                             .get_data(as_text=True), "Bekkestua")


def test_a_station_that_stops_beating_turns_red(app, session, tmp_path):
    config = tmp_path / "station.toml"
    url = app.config["KIOSK_SETTINGS"].database_url
    config.write_text(f'[station]\nname = "Killed"\nbranch = "main"\n[database]\nurl = "{url}"\n'
                      '[logging]\nlevel = "WARNING"\n[[shelves]]\nname = "A"\nslots = 6\n'
                      'capacity = 2\n[[shelves]]\nname = "B"\nslots = 4\ncapacity = 3\n')
    proc = subprocess.Popen([*KIOSK, "--config", str(config), "serve", "--port",
                             str(free_port())], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                            env={**os.environ, "KIOSK_FLEET_HEARTBEAT_S": "0.2"})

    def seen() -> list[dt.datetime]:
        with app.app_context():
            found = db.session.scalars(select(StationHeartbeat.seen_at)
                                       .where(StationHeartbeat.name == "Killed")).all()
            db.session.remove()
            return found

    try:
        wait_for(lambda: seen())
        first = seen()[0]
        wait_for(lambda: seen()[0] != first)  # it goes on beating
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    last = seen()[0]
    time.sleep(1.0)  # five heartbeats' time: none comes from a killed station
    assert seen()[0] == last
    staff = app.test_client()
    login(staff, app)
    fleet = app.extensions["fleet"]
    stamp = last if last.tzinfo else last.replace(tzinfo=dt.UTC)
    fleet.clock = lambda: stamp + dt.timedelta(seconds=60)
    assert 'data-state="green"' in row(staff.get("/staff/stations").get_data(as_text=True),
                                       "Killed")
    fleet.clock = lambda: stamp + dt.timedelta(minutes=2, seconds=1)
    refresh()
    page = staff.get("/staff/stations?lang=nb").get_data(as_text=True)
    assert 'data-state="red"' in row(page, "Killed")
    assert "Ingen livstegn på 2 minutter" in row(page, "Killed")
