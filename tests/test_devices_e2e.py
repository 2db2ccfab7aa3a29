"""End to end: bytes into a pseudo-terminal, the result on /kiosk/events, state on /healthz."""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from urllib.parse import urlsplit

import pytest

from kiosk.devices import runtime
from tests.factories import card_number, make_order


class Pty:
    """A pseudo-terminal behind a stable symlink, as udev names a scanner."""

    def __init__(self, link):
        self.link = link
        self.master, self.slave = os.openpty()
        link.symlink_to(os.ttyname(self.slave))

    def write(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def pty(tmp_path):
    device = Pty(tmp_path / "kiosk-scanner")
    yield device
    device.close()


@pytest.fixture
def config_overrides(pty):
    return {"scanner": {"kind": "serial", "port": str(pty.link), "terminator": "CR",
                        "debounce_s": 2.0}}


@pytest.fixture
def devices(app):
    app.config["KIOSK_SSE_KEEPALIVE_S"] = 0.2  # a closed stream frees its thread quickly
    stop = runtime.start(app)
    yield app.extensions["station"]
    stop()


class EventStream:
    """A client of /kiosk/events over a plain HTTP connection."""

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        self.conn.request("GET", "/kiosk/events", headers={"Accept": "text/event-stream"})
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.readline().startswith(b"retry:")  # subscribed from here on

    def next_event(self) -> tuple[str, dict]:
        kind, data = "message", None
        while True:
            line = self.response.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                kind = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
            elif line == "" and data is not None:
                return kind, data

    def close(self) -> None:
        self.conn.close()


def wait_until(predicate, timeout: float = 5.0) -> bool:
    ready = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        ready.wait(0.01)
    return True


def test_scan_on_the_serial_line_reaches_the_screen(live_server, session, devices, pty):
    card = card_number()
    order = make_order(session, card=card, slot="B-02", station=devices, items=3)
    assert wait_until(lambda: devices.devices["scanner"].state == "connected")
    stream = EventStream(live_server)
    try:
        pty.write(b"\x00noise\r" + card.encode() + b"\r" + card.encode() + b"\r")
        kind, data = stream.next_event()
    finally:
        stream.close()
    assert kind == "scan"
    assert data["source"] == "serial" and data["outcome"] == "ready"
    assert [(p["slot"], p["items"], p["pickup_code"]) for p in data["pickups"]] == \
        [("B-02", 3, order.pickup_code)]
    assert devices.recent(data["event_id"]) is not None  # printable from the screen


def test_healthz_shows_the_scanner_and_its_last_scan(live_server, session, devices, pty):
    assert wait_until(lambda: devices.devices["scanner"].state == "connected")
    before = time.time()
    stream = EventStream(live_server)
    try:
        pty.write(card_number().encode() + b"\r")
        assert stream.next_event()[1]["outcome"] == "nothing"
    finally:
        stream.close()
    parts = urlsplit(live_server)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    conn.request("GET", "/healthz")
    health = json.loads(conn.getresponse().read())
    conn.close()
    assert health["scanner"]["state"] == "connected"
    assert str(pty.link) in health["scanner"]["detail"]
    assert health["scanner"]["last_activity"] >= before


def test_no_scanner_configured_starts_nothing(make_settings):
    from kiosk import create_app

    app = create_app(make_settings(), {"TESTING": True})
    stop = runtime.start(app)
    stop()
    station = app.extensions["station"]
    assert station.devices["scanner"].state == "absent" and station.printer is None


def test_auto_print_sends_a_slip_for_a_ready_scan(make_settings, pty):
    from kiosk import create_app
    from kiosk.extensions import db
    from kiosk.schema import upgrade_database
    from tests.test_printer import CODE128, PrinterStandIn

    printer = PrinterStandIn()
    settings = make_settings({
        "scanner": {"kind": "serial", "port": str(pty.link)},
        "printer": {"kind": "escpos-network", "host": "127.0.0.1", "port": printer.port,
                    "auto_print": True}})
    app = create_app(settings, {"TESTING": True})
    upgrade_database(app)
    station = app.extensions["station"]
    card, nothing = card_number(), card_number()
    with app.app_context():
        order = make_order(db.session, card=card, slot="A-04", station=station)
        code = order.pickup_code
    stop = runtime.start(app)
    try:
        assert wait_until(lambda: station.devices["scanner"].state == "connected")
        assert wait_until(lambda: station.devices["printer"].state == "ok")
        pty.write(nothing.encode() + b"\r" + card.encode() + b"\r")
        assert printer.wait_jobs(1)
    finally:
        stop()
        printer.close()
        with app.app_context():
            db.engine.dispose()
    assert len(printer.jobs) == 1  # a scan with nothing on the shelf prints nothing
    assert b"Hylleplass A-04" in printer.jobs[0] and CODE128 + b"\x08{B" + code.encode() \
        in printer.jobs[0]
    assert station.devices["printer"].last_activity is not None
