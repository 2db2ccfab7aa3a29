"""Staff read times on the station's own clock: stored UTC shown in the machine's zone.

SQLite gives stored times back naive (UTC) and PostgreSQL aware; the pages, the packing slip
and the webhook page showed them as UTC, an hour or two off the clock on the wall in Norway.
The tests run the station in Europe/Oslo (TZ, as Debian's /etc/localtime sets it).
"""

from __future__ import annotations

import datetime as dt

from factories import make_order
from staff_helpers import login

from kiosk.extensions import db
from kiosk.localtime import local, local_time
from kiosk.models import AuditEvent

SUMMER = dt.datetime(2026, 7, 1, 10, 5, tzinfo=dt.UTC)  # 12:05 in Oslo (CEST, UTC+2)
WINTER = dt.datetime(2026, 12, 1, 10, 5, tzinfo=dt.UTC)  # 11:05 in Oslo (CET, UTC+1)



def test_a_stored_time_is_shown_in_the_stations_zone(in_oslo):
    assert local_time(SUMMER) == "2026-07-01 12:05"
    assert local_time(WINTER, "%H:%M:%S") == "11:05:00"
    assert local_time(SUMMER.replace(tzinfo=None)) == "2026-07-01 12:05"  # SQLite: naive UTC
    assert local(SUMMER.astimezone(dt.timezone(dt.timedelta(hours=-5)))) == SUMMER
    assert local_time(None) == ""


def test_the_order_page_shows_packing_and_history_on_the_wall_clock(in_oslo, client, app,
                                                                     session):
    login(client, app)
    order = make_order(session, items=1)
    order.packed_at = SUMMER
    session.add(AuditEvent(order_id=order.id, at=WINTER, actor="kari", station="test",
                           action="note", detail=None))
    session.commit()
    html = client.get(f"/staff/orders/{order.id}").get_data(as_text=True)
    assert "2026-07-01 12:05" in html and "2026-07-01 10:05" not in html
    assert "2026-12-01 11:05:00" in html and "2026-12-01 10:05:00" not in html


def test_the_pick_list_shows_when_orders_came_on_the_wall_clock(in_oslo, client, app, session):
    login(client, app)
    order = make_order(session, items=1)
    order.created_at = WINTER
    session.commit()
    html = client.get("/staff/packing").get_data(as_text=True)
    assert "2026-12-01 11:05" in html and "2026-12-01 10:05" not in html


def test_the_packing_slip_prints_the_wall_clocks_time(in_oslo, client, app, session, station,
                                                     tmp_path):
    from kiosk.devices.printer import SlipPrinter

    login(client, app)
    order = make_order(session, items=1)
    device = tmp_path / "lp0"
    station.printer = SlipPrinter({"kind": "file", "path": str(device), "host": "",
                                   "port": 9100, "baudrate": 9600, "vendor_id": 0,
                                   "product_id": 0, "profile": "default",
                                   "auto_print": False, "timeout_s": 2.0}, station.name)
    try:
        before = dt.datetime.now()  # naive: the local wall clock
        r = client.post(f"/staff/orders/{order.id}/label/print",
                        headers={"X-Requested-With": "fetch"})
        assert r.status_code == 200, r.get_data(as_text=True)
    finally:
        station.printer.close()
        station.printer = None
    data = device.read_bytes().decode("cp437", "replace")
    assert before.strftime("%d.%m.%Y %H:") in data or (
        (before + dt.timedelta(minutes=1)).strftime("%d.%m.%Y %H:") in data), data[:200]
    utc = dt.datetime.now(dt.UTC).strftime("%d.%m.%Y %H:")
    assert utc not in data  # Oslo is never on UTC
    with app.app_context():
        db.session.remove()
