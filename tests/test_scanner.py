"""The serial scanner on a real pseudo-terminal: scans, noise, unplug/replug, a missing port."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from kiosk.devices.scanner import ScannerState, SerialScanner, serial_opener
from kiosk.devices.scanparser import ScanParser
from kiosk.devices.virtual import VirtualScanner
from kiosk.domain.cards import CardReader

CARDS = CardReader([r"^N\d{9}$"])
REPLUG_LIMIT_S = 5.0  # the issue: reading again within 5 s of the device returning


class Recorder:
    """A scanner listener that remembers everything and lets a test wait for it."""

    def __init__(self) -> None:
        self.scans: list[tuple[str, bytes]] = []
        self.states: list[tuple[ScannerState, str]] = []
        self._changed = threading.Condition()

    def on_scan(self, card: str, raw: bytes) -> None:
        with self._changed:
            self.scans.append((card, raw))
            self._changed.notify_all()

    def on_state(self, state: ScannerState, detail: str) -> None:
        with self._changed:
            self.states.append((state, detail))
            self._changed.notify_all()

    @property
    def cards(self) -> list[str]:
        return [card for card, _ in self.scans]

    @property
    def state(self) -> ScannerState | None:
        return self.states[-1][0] if self.states else None

    def wait(self, predicate, timeout: float = 3.0) -> bool:
        with self._changed:
            return self._changed.wait_for(predicate, timeout)


class Pty:
    """A pseudo-terminal standing in for a scanner, reached through a stable symlink."""

    def __init__(self, link: Path):
        self.link = link
        self.master: int | None = None
        self.slave: int | None = None

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        tmp = self.link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self.slave))
        os.replace(tmp, self.link)  # swap atomically, as udev does

    def unplug(self) -> None:
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None

    def write(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)


@pytest.fixture
def pty(tmp_path):
    device = Pty(tmp_path / "kiosk-scanner")
    device.plug()
    yield device
    device.unplug()


def make_scanner(port: str, rec: Recorder, terminator: str = "CR", **kwargs) -> SerialScanner:
    parser = ScanParser(CARDS, terminator, char_timeout_s=0.05)
    kwargs.setdefault("retry_max_s", 0.5)
    return SerialScanner(serial_opener(port), rec, parser, name=port, **kwargs)


@pytest.fixture
def running():
    started: list[SerialScanner] = []

    def run(scanner: SerialScanner) -> SerialScanner:
        scanner.start()
        started.append(scanner)
        return scanner

    yield run
    for scanner in started:
        scanner.stop()


def connected(rec: Recorder) -> bool:
    return rec.state == ScannerState.CONNECTED


@pytest.mark.parametrize("terminator,end", [("CR", b"\r"), ("LF", b"\n"), ("CRLF", b"\r\n"),
                                            ("none", b"")])
def test_reads_a_card_with_each_terminator(pty, running, terminator, end):
    rec = Recorder()
    running(make_scanner(str(pty.link), rec, terminator))
    assert rec.wait(lambda: connected(rec))
    pty.write(b"N123456789" + end)
    assert rec.wait(lambda: rec.scans)
    assert rec.scans == [("N123456789", b"N123456789")]


def test_noise_split_merged_overlong_and_non_utf8(pty, running):
    rec = Recorder()
    running(make_scanner(str(pty.link), rec))
    assert rec.wait(lambda: connected(rec))
    pty.write(b"\x00\x07garbage\r\xff\xfe\xfdN1\r")  # garbage and bytes that are not UTF-8
    pty.write(b"N0000")  # a scan cut in half ...
    pty.write(b"00001\rN000000002\rN000000003\r")  # ... then two merged into one read
    pty.write(b"7" * 10_500 + b"\r")  # 10 kB without a terminator
    pty.write(b"N000000004\r")
    assert rec.wait(lambda: len(rec.scans) >= 4)
    assert rec.cards == ["N000000001", "N000000002", "N000000003", "N000000004"]
    assert rec.state == ScannerState.CONNECTED  # never died


def test_same_card_within_debounce_counts_once(pty, running):
    rec = Recorder()
    running(make_scanner(str(pty.link), rec, debounce_s=60))
    assert rec.wait(lambda: connected(rec))
    pty.write(b"N000000005\rN000000005\rN000000006\rN000000005\r")
    assert rec.wait(lambda: len(rec.scans) >= 2)
    pty.write(b"N000000007\r")  # a marker: everything before it has been read
    assert rec.wait(lambda: len(rec.scans) >= 3)
    assert rec.cards == ["N000000005", "N000000006", "N000000007"]


def test_debounce_zero_counts_every_scan(pty, running):
    rec = Recorder()
    running(make_scanner(str(pty.link), rec, debounce_s=0))
    assert rec.wait(lambda: connected(rec))
    pty.write(b"N000000005\rN000000005\r")
    assert rec.wait(lambda: len(rec.scans) >= 2)
    assert rec.cards == ["N000000005", "N000000005"]


def test_unplug_and_replug_reads_again(pty, running):
    rec = Recorder()
    running(make_scanner(str(pty.link), rec))
    assert rec.wait(lambda: connected(rec))
    pty.write(b"N000000011\r")
    assert rec.wait(lambda: rec.scans)
    pty.unplug()
    assert rec.wait(lambda: rec.state == ScannerState.DISCONNECTED)
    pty.plug()  # back, under a new /dev/pts name behind the same link
    assert rec.wait(lambda: connected(rec), timeout=REPLUG_LIMIT_S)
    pty.write(b"N000000012\r")
    assert rec.wait(lambda: len(rec.scans) >= 2)
    assert rec.cards == ["N000000011", "N000000012"]
    assert [s for s, _ in rec.states] == [ScannerState.CONNECTED, ScannerState.DISCONNECTED,
                                          ScannerState.CONNECTED]


def test_default_backoff_reads_again_within_five_seconds(pty, running):
    rec = Recorder()
    running(make_scanner(str(pty.link), rec, retry_max_s=2.0))
    assert rec.wait(lambda: connected(rec))
    pty.unplug()
    assert rec.wait(lambda: rec.state == ScannerState.DISCONNECTED)
    pty.plug()
    assert rec.wait(lambda: connected(rec), timeout=REPLUG_LIMIT_S)


def test_port_that_never_existed_at_start(tmp_path, running):
    link = tmp_path / "kiosk-scanner"
    rec = Recorder()
    scanner = running(make_scanner(str(link), rec))
    assert rec.wait(lambda: rec.state == ScannerState.DISCONNECTED)
    assert "No such file" in rec.states[-1][1]
    assert scanner._thread.is_alive()
    device = Pty(link)
    device.plug()
    try:
        assert rec.wait(lambda: connected(rec), timeout=REPLUG_LIMIT_S)
        device.write(b"N000000013\r")
        assert rec.wait(lambda: rec.scans)
        assert rec.cards == ["N000000013"]
    finally:
        device.unplug()


def test_port_is_opened_exclusively(pty, running):
    first, second = Recorder(), Recorder()
    running(make_scanner(str(pty.link), first))
    assert first.wait(lambda: connected(first))
    running(make_scanner(str(pty.link), second))
    assert second.wait(lambda: second.state == ScannerState.ERROR)
    assert "exclusively" in second.states[-1][1]


def test_stop_reports_closed(pty):
    rec = Recorder()
    scanner = make_scanner(str(pty.link), rec)
    scanner.start()
    assert rec.wait(lambda: connected(rec))
    scanner.stop()
    assert rec.state == ScannerState.CLOSED
    assert not scanner._thread.is_alive()


def test_socket_url_as_port(running):
    """A pyserial URL works as well as a device path: here a scanner behind a TCP bridge."""
    server = socket.create_server(("127.0.0.1", 0))
    rec = Recorder()
    running(make_scanner(f"socket://127.0.0.1:{server.getsockname()[1]}", rec))
    conn, _ = server.accept()
    with conn, server:
        assert rec.wait(lambda: connected(rec))
        conn.sendall(b"N000000014\r")
        assert rec.wait(lambda: rec.scans)
    assert rec.cards == ["N000000014"]


def test_virtual_scanner_plays_scans_and_unplugging():
    rec = Recorder()
    scanner = VirtualScanner(rec, ScanParser(CARDS, "CR"), retry_max_s=0.2)
    scanner.start()
    try:
        assert rec.wait(lambda: connected(rec))
        scanner.scan("N000000015")
        assert rec.wait(lambda: rec.scans)
        scanner.unplug()
        assert rec.wait(lambda: rec.state == ScannerState.DISCONNECTED)
        scanner.replug()
        assert rec.wait(lambda: connected(rec))
        scanner.scan("N000000016")
        assert rec.wait(lambda: len(rec.scans) == 2)
    finally:
        scanner.stop()
    assert rec.cards == ["N000000015", "N000000016"]
