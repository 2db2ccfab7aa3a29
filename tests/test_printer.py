"""Slips on a loopback network printer that records bytes, on files and on escpos Dummy."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import struct
import threading

import pytest
from escpos.printer import Dummy

from kiosk.devices.printer import SlipPrinter, paper_state, query_paper
from kiosk.devices.runtime import build_printer
from kiosk.devices.slip import choose_code_page, compose, sample_slip, slip_from_result
from kiosk.station import DeviceState
from tests.factories import card_number, make_order

NOW = dt.datetime(2026, 3, 2, 10, 30)
ESC_INIT, CP865 = b"\x1b@", b"\x1bt\x05"
CODE128 = b"\x1dkI"  # GS k, function B, CODE128
CUT = b"\x1dV"


PAPER_QUERY = b"\x10\x04\x04"  # DLE EOT 4: real-time paper sensor status
PAPER_OK, PAPER_LOW, PAPER_OUT = 0x12, 0x12 | 0x0C, 0x12 | 0x60


class PrinterStandIn:
    """A network receipt printer on 127.0.0.1: accepts jobs and records their bytes.

    It answers DLE EOT 4 with `status` (None: stays silent, as printers without it)
    and keeps the query out of the recorded job, as a printer does not print it.
    """

    def __init__(self, port: int = 0):
        self.jobs: list[bytes] = []
        self.queries = 0
        self.status: int | None = PAPER_OK
        self.kill_after: int | None = None
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", port))
        self._server.listen()
        self.port = self._server.getsockname()[1]
        self._done = threading.Condition()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return  # the listener was closed
            with conn:
                job = bytearray(self._answer_queries(conn))
                if self.kill_after is not None:
                    conn.recv(self.kill_after)  # part of the job, then the power goes
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self._server.close()
                    return
                while job and (chunk := conn.recv(65536)):
                    job += chunk
            if not job:
                continue  # a connection without data (the station's check) prints nothing
            with self._done:
                self.jobs.append(bytes(job))
                self._done.notify_all()

    def _answer_queries(self, conn: socket.socket) -> bytes:
        """Answer paper queries at the start of a connection; return the first job bytes."""
        data = b""
        while chunk := conn.recv(65536 if self.kill_after is None else 1):
            data += chunk
            while data.startswith(PAPER_QUERY):
                data = data[len(PAPER_QUERY):]
                self.queries += 1
                if self.status is not None:
                    conn.sendall(bytes([self.status]))
            if data and not PAPER_QUERY.startswith(data):
                break  # the slip itself
        return data

    def wait_jobs(self, n: int, timeout: float = 5) -> bool:
        with self._done:
            return self._done.wait_for(lambda: len(self.jobs) >= n, timeout=timeout)

    def wait_jobs_briefly(self, n: int) -> bool:
        """Wait a little for n jobs: for asserting that none came."""
        return self.wait_jobs(n, timeout=0.3)

    def close(self) -> None:
        try:
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass  # closed already (killed)
        self._server.close()
        self._thread.join(5)


@pytest.fixture
def listener():
    stand_in = PrinterStandIn()
    yield stand_in
    stand_in.close()


def section(**keys) -> dict:
    base = {"kind": "escpos-network", "host": "127.0.0.1", "port": 9100, "baudrate": 9600,
            "vendor_id": 0, "product_id": 0, "path": "", "profile": "default",
            "auto_print": False, "timeout_s": 2.0}
    return base | keys


def network_printer(port: int, state: DeviceState | None = None) -> SlipPrinter:
    return SlipPrinter(section(port=port), "Sandvika, hovedinngang", "nb",
                       on_state=state.set if state else None, status_timeout_s=0.2)


RESULT = {"outcome": "ready", "pickups": [
    {"order_id": 1, "pickup_code": "KR-472", "slot": "A-01", "shelf": "A", "items": 3,
     "deadline": "2026-03-09", "titles": []},
    {"order_id": 2, "pickup_code": "MT-105", "slot": "B-04", "shelf": "B", "items": 1,
     "deadline": None, "titles": []}]}


# --- composition on the Dummy printer ----------------------------------------------------

def test_slip_has_station_date_code_slots_deadline_barcode_and_cut():
    data = compose(slip_from_result("Høvik bibliotek", RESULT, "nb", NOW))
    assert data.startswith(ESC_INIT + CP865)
    assert "Høvik bibliotek".encode("cp865") in data
    assert b"02.03.2026 10:30" in data
    assert b"\x1b!0KR-472" in data.replace(b"\x1bE\x01\x1ba\x01", b"")  # double size
    assert b"Hylleplass A-01 - 3 eks." in data and b"Hylleplass B-04 - 1 eks." in data
    assert b"Hentes innen 09.03.2026" in data
    assert data.count(CODE128) == 2
    assert CODE128 + b"\x08{BKR-472" in data and CODE128 + b"\x08{BMT-105" in data
    assert data.endswith(CUT + b"\x00")


def test_norwegian_letters_in_code_page_865():
    data = compose(sample_slip("Stasjon", "nb", NOW))
    assert data.count(b"\x1bt") == 1 and CP865 in data
    assert "æ ø å Æ Ø Å".encode("cp865") == b"\x91 \x9b \x86 \x92 \x9d \x8f"
    assert b"\x91 \x9b \x86 \x92 \x9d \x8f" in data
    assert b"?" not in data.replace(b"{B", b"")


def test_code_page_choice_follows_the_profile():
    assert choose_code_page("default") == "CP865"
    assert choose_code_page("TM-T88V") == "CP865"
    assert choose_code_page("simple") is None  # CP437 only: no ø; composed anyway
    assert compose(sample_slip("Stasjon", "en", NOW), "simple")


def test_nothing_on_the_shelf_makes_no_slip():
    assert slip_from_result("S", {"outcome": "waiting", "pickups": []}) is None


# --- the loopback network printer -------------------------------------------------------

def test_network_printer_receives_the_slip(listener):
    state = DeviceState()
    printer = network_printer(listener.port, state)
    result = printer.print_slip(sample_slip("Sandvika, hovedinngang", "nb", NOW))
    assert result.ok, result.detail
    assert listener.wait_jobs(1)
    job = listener.jobs[0]
    assert job == compose(sample_slip("Sandvika, hovedinngang", "nb", NOW))
    assert CP865 in job and CODE128 + b"\x08{BKR-472" in job and CUT in job
    assert state.state == "ok"


def test_printer_dies_mid_job_then_comes_back(listener):
    state = DeviceState()
    printer = network_printer(listener.port, state)
    listener.kill_after = 40
    first = printer.print_result(RESULT)
    assert not first.ok
    assert state.state == "error" and f"127.0.0.1:{listener.port}" in state.detail
    off = printer.print_result(RESULT)  # nothing listens now: the printer is off
    assert not off.ok and "switched on" in off.detail
    listener.close()
    back = PrinterStandIn(listener.port)
    try:
        again = printer.print_result(RESULT)
        assert again.ok, again.detail
        assert back.wait_jobs(1) and b"KR-472" in back.jobs[0]
        assert state.state == "ok"
    finally:
        back.close()
    printer.close()


def test_check_reports_a_missing_printer():
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    state = DeviceState()
    assert not network_printer(port, state).check().ok
    assert state.state == "error"


def test_file_printer_writes_the_slip(tmp_path):
    path = tmp_path / "lp0"
    printer = SlipPrinter(section(kind="file", path=str(path)), "S")
    assert printer.print_slip(sample_slip("S", "nb", NOW)).ok
    assert path.read_bytes() == compose(sample_slip("S", "nb", NOW))


def test_file_printer_unplugged(tmp_path):
    state = DeviceState()
    printer = SlipPrinter(section(kind="file", path=str(tmp_path / "gone" / "lp0")), "S",
                          on_state=state.set)
    result = printer.print_slip(sample_slip("S"))
    assert not result.ok and "lp0" in result.detail and state.state == "error"


# --- the paper sensor (DLE EOT 4) -------------------------------------------------------

def test_out_of_paper_sends_nothing_then_refilled_prints(listener, caplog):
    state = DeviceState()
    printer = network_printer(listener.port, state)
    listener.status = PAPER_OUT
    with caplog.at_level(logging.WARNING, logger="kiosk.devices.printer"):
        out = printer.print_result(RESULT)
    assert not out.ok and out.detail.endswith("out of paper")
    assert state.state == "error" and "out of paper" in state.detail
    assert any(r.levelno == logging.WARNING and "out of paper" in r.getMessage()
               for r in caplog.records)
    assert listener.queries == 1 and not listener.wait_jobs_briefly(1)
    listener.status = PAPER_OK  # a new roll
    again = printer.print_result(RESULT)
    assert again.ok, again.detail
    assert listener.wait_jobs(1) and len(listener.jobs) == 1 and b"KR-472" in listener.jobs[0]
    assert state.state == "ok" and "paper" not in state.detail
    printer.close()


def test_paper_low_prints_and_says_so(listener, caplog):
    state = DeviceState()
    printer = network_printer(listener.port, state)
    listener.status = PAPER_LOW
    with caplog.at_level(logging.WARNING, logger="kiosk.devices.printer"):
        result = printer.print_slip(sample_slip("S", "nb", NOW))
        printer.print_slip(sample_slip("S", "nb", NOW))
    assert result.ok and result.detail.endswith("paper low")
    assert listener.wait_jobs(2) and listener.jobs[0] == compose(sample_slip("S", "nb", NOW))
    assert state.state == "ok" and "paper low" in state.detail
    assert sum("paper low" in r.getMessage() for r in caplog.records) == 1  # once, not per slip


@pytest.mark.parametrize("status", [None, 0x00, 0xFF], ids=["silent", "zero", "garbage"])
def test_printer_without_paper_status_still_prints(listener, status):
    listener.status = status  # no answer, or bytes that are no DLE EOT 4 status
    state = DeviceState()
    printer = network_printer(listener.port, state)
    result = printer.print_slip(sample_slip("S", "nb", NOW))
    assert result.ok, result.detail
    assert listener.wait_jobs(1) and listener.jobs[0] == compose(sample_slip("S", "nb", NOW))
    assert listener.queries == 1 and state.state == "ok" and "paper" not in state.detail


def test_check_reports_out_of_paper_without_printing(listener):
    state = DeviceState()
    listener.status = PAPER_OUT
    assert not network_printer(listener.port, state).check().ok
    assert state.state == "error" and "out of paper" in state.detail
    listener.status = PAPER_OK
    assert network_printer(listener.port, state).check().ok and state.state == "ok"
    assert listener.queries == 2 and not listener.jobs


def test_status_byte_meaning_and_devices_not_asked(tmp_path):
    assert [paper_state(b) for b in (None, 0x12, 0x1E, 0x72, 0x7E)] == [
        None, "ok", "low", "out", "out"]
    dummy = Dummy()
    assert query_paper(dummy, 0.1) is None and dummy.output == b""
    path = tmp_path / "lp0"
    printer = SlipPrinter(section(kind="file", path=str(path)), "S", status_timeout_s=5)
    assert printer.print_slip(sample_slip("S", "nb", NOW)).ok  # at once: files are not asked
    assert path.read_bytes() == compose(sample_slip("S", "nb", NOW))


# --- POST /kiosk/print -------------------------------------------------------------------

def _scan_ready(client, session, station) -> int:
    card = card_number()
    make_order(session, card=card, slot="A-02", station=station)
    return client.post("/kiosk/scan", json={"code": card}).get_json()["event_id"]


def test_print_view_prints_the_scan_on_screen(app, client, session, station, listener):
    settings = app.config["KIOSK_SETTINGS"]
    settings.sections["printer"].update(kind="escpos-network", host="127.0.0.1",
                                        port=listener.port)
    station.printer = build_printer(settings, station)
    event_id = _scan_ready(client, session, station)
    response = client.post("/kiosk/print", json={"event_id": event_id})
    assert response.status_code == 200, response.get_json()
    assert listener.wait_jobs(1) and b"Hylleplass A-02" in listener.jobs[0]
    assert station.devices["printer"].state == "ok"
    listener.kill_after = 10
    response = client.post("/kiosk/print", json={"event_id": event_id})
    assert response.status_code == 503
    assert "note your shelf slot" in response.get_json()["detail"]
    assert station.devices["printer"].state == "error"
    station.printer.close()


def test_print_view_out_of_paper_then_refilled(app, client, session, station, listener):
    settings = app.config["KIOSK_SETTINGS"]
    settings.sections["printer"].update(kind="escpos-network", host="127.0.0.1",
                                        port=listener.port, timeout_s=1.0)
    station.printer = build_printer(settings, station)
    event_id = _scan_ready(client, session, station)
    listener.status = PAPER_OUT
    response = client.post("/kiosk/print", json={"event_id": event_id})
    assert response.status_code == 503
    assert "note your shelf slot" in response.get_json()["detail"]
    assert not listener.wait_jobs_briefly(1)
    health = client.get("/healthz").get_json()["printer"]
    assert health["state"] == "error" and "out of paper" in health["detail"]
    listener.status = PAPER_OK
    response = client.post("/kiosk/print", json={"event_id": event_id})
    assert response.status_code == 200, response.get_json()
    assert listener.wait_jobs(1) and b"Hylleplass A-02" in listener.jobs[0]
    assert client.get("/healthz").get_json()["printer"]["state"] == "ok"
    station.printer.close()


def test_print_view_without_printer_and_bad_requests(client, session, station):
    event_id = _scan_ready(client, session, station)
    assert client.post("/kiosk/print", json={"event_id": event_id}).status_code == 503
    assert client.post("/kiosk/print", json={"event_id": "99999"}).status_code == 404
    for bad in ({}, {"event_id": 1}, {"event_id": True}, {"event_id": ""}, []):
        assert client.post("/kiosk/print", json=bad).status_code == 400
    assert client.post("/kiosk/print", data="x").status_code == 415
    nothing = client.post("/kiosk/scan", json={"code": card_number()}).get_json()["event_id"]
    assert client.post("/kiosk/print", json={"event_id": nothing}).status_code == 409


# --- the after-pickup offer at the bottom of the slip ------------------------------------

OFFER = {"kind": "ebooks", "title": "Lån e-bøker og lydbøker",
         "text": "Rett på mobilen, hele døgnet.", "url": "https://example.org/e-bibliotek"}
QR_NATIVE = b"\x1d(k"  # GS ( k: the printer draws the QR code itself
RASTER = b"\x1dv0"  # GS v 0: a raster image


def qr_data(url: str) -> bytes:
    """Return GS ( k "store the data" with url, as python-escpos sends it."""
    return QR_NATIVE + struct.pack("<H", len(url) + 3) + b"1P0" + url.encode()


def test_slip_ends_with_the_offer_title_and_its_qr_code():
    data = compose(slip_from_result("Stasjon", {**RESULT, "offer": OFFER}, "nb", NOW))
    title = OFFER["title"].encode("cp865")
    note = "Ta med lånekortet når du henter.".encode("cp865")
    assert note in data and title in data and qr_data(OFFER["url"]) in data
    assert data.index(note) < data.index(title) < data.index(qr_data(OFFER["url"]))
    assert data.index(qr_data(OFFER["url"])) < data.rindex(CUT)
    assert b"\x1d(k\x03\x001Q0" in data  # ... and print it
    assert data.count(CODE128) == 2  # the pickup codes' barcodes are still there


def test_printer_without_native_qr_gets_the_offer_as_an_image():
    data = compose(slip_from_result("Stasjon", {**RESULT, "offer": OFFER}, "en", NOW), "simple")
    assert QR_NATIVE not in data
    tail = data[data.index(b"e-b"):]
    assert RASTER in tail and OFFER["url"].encode() in tail


def test_no_offer_no_qr_code():
    for offer in (None, {"title": "", "url": "https://x.org"}, {"title": "T", "url": ""}, "x"):
        data = compose(slip_from_result("Stasjon", {**RESULT, "offer": offer}, "nb", NOW))
        assert QR_NATIVE not in data


@pytest.mark.parametrize("config_overrides", [{"offers": [{**OFFER, "after_pickup": True}]}])
def test_scan_with_an_offer_prints_it_on_the_network_printer(app, client, session, station,
                                                             listener):
    settings = app.config["KIOSK_SETTINGS"]
    settings.sections["printer"].update(kind="escpos-network", host="127.0.0.1",
                                        port=listener.port)
    station.printer = build_printer(settings, station)
    card = card_number()
    make_order(session, card=card, slot="B-01", station=station)
    body = client.post("/kiosk/scan", json={"code": card}).get_json()
    assert body["offer"]["title"] == OFFER["title"] and "<svg" in body["offer"]["qr_svg"]
    response = client.post("/kiosk/print", json={"event_id": body["event_id"]})
    assert response.status_code == 200, response.get_json()
    assert listener.wait_jobs(1)
    job = listener.jobs[0]
    assert b"Hylleplass B-01" in job and OFFER["title"].encode("cp865") in job
    assert qr_data(OFFER["url"]) in job
    station.printer.close()
