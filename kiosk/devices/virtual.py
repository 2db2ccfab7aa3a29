"""A virtual scanner for demos and tests: scans injected by code, through the real reader."""

from __future__ import annotations

import threading
import time

import serial

from kiosk.devices.scanner import ScannerListener, SerialScanner
from kiosk.devices.scanparser import ScanParser


class VirtualPort:
    """An in-memory port: bytes written by `inject` are read by the scanner thread."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._ready = threading.Condition()
        self._timeout = 0.5
        self.closed = False
        self.unplugged = False

    def set_timeout(self, timeout: float) -> None:
        self._timeout = timeout

    def inject(self, data: bytes) -> None:
        """Make bytes arrive as if the scanner had sent them."""
        with self._ready:
            self._data += data
            self._ready.notify_all()

    def unplug(self) -> None:
        """Make the next read fail as a pulled cable does."""
        with self._ready:
            self.unplugged = True
            self._ready.notify_all()

    @property
    def in_waiting(self) -> int:
        return len(self._data)

    def read(self, size: int = 1) -> bytes:
        with self._ready:
            deadline = time.monotonic() + self._timeout
            while not self._data and not self.unplugged and not self.closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return b""
                self._ready.wait(left)
            if self.unplugged:
                raise serial.SerialException("virtual scanner unplugged")
            chunk = bytes(self._data[:size])
            del self._data[:size]
            return chunk

    def cancel_read(self) -> None:
        with self._ready:
            self._ready.notify_all()

    def close(self) -> None:
        with self._ready:
            self.closed = True
            self._ready.notify_all()


class VirtualScanner(SerialScanner):
    """A SerialScanner on a virtual port; `scan("N123456789")` plays a scan."""

    def __init__(self, listener: ScannerListener, parser: ScanParser, **kwargs) -> None:
        self.port = VirtualPort()
        self.plugged = True
        super().__init__(self._open, listener, parser, name="virtual", **kwargs)

    def _open(self, timeout: float) -> VirtualPort:
        if not self.plugged:
            raise serial.SerialException("could not open port virtual: [Errno 2] No such file")
        if self.port.closed or self.port.unplugged:
            self.port = VirtualPort()
        self.port.set_timeout(timeout)
        return self.port

    def scan(self, code: str) -> None:
        """Send code followed by the parser's terminator, as a scanner does."""
        self.port.inject(code.encode("utf-8") + (self.parser.terminator or b""))

    def unplug(self) -> None:
        """Pull the cable: reads fail, and opening fails until `replug`."""
        self.plugged = False
        self.port.unplug()

    def replug(self) -> None:
        """Plug the cable back in."""
        self.plugged = True
