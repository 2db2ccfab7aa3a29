"""The barcode scanner: one thread owns the serial port, reconnects, and reports by callbacks.

Layering as in OctoPrint: `SerialScanner` owns the port and its reader thread; it
reports through a small listener interface (`on_scan`, `on_state`); the layer above
(`kiosk.devices.runtime`) turns those calls into station events. The port opener is
injectable, so tests and demos plug in a virtual device and nothing else can tell.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import serial

from kiosk.devices.scanparser import Candidate, ScanParser
from kiosk.domain.cards import CardReader, mask

log = logging.getLogger(__name__)

IDLE_READ_TIMEOUT_S = 0.5  # how long a read waits before the thread looks at its stop flag
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 2.0  # reconnect attempts at most this far apart: reading again well within 5 s


class ScannerState(enum.Enum):
    """Where the scanner stands. Groups: working (connected), trouble (disconnected,
    error: retrying on its own), finished (closed: stopped on purpose)."""

    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    ERROR = "error"
    CLOSED = "closed"


class ScannerListener(Protocol):
    """What a scanner reports to: valid scans and state changes."""

    def on_scan(self, card: str, raw: bytes) -> None: ...

    def on_state(self, state: ScannerState, detail: str) -> None: ...


class Port(Protocol):
    """The part of a pyserial port the reader uses."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def close(self) -> None: ...


Opener = Callable[[float], Port]  # called with the read timeout; returns an open port


def serial_opener(url: str, baudrate: int = 9600, bytesize: int = 8, parity: str = "N",
                  stopbits: float = 1) -> Opener:
    """Return an opener for a device path or pyserial URL (socket://, loop://, hwgrep://)."""

    def open_port(timeout: float) -> Port:
        options: dict[str, Any] = {"baudrate": baudrate, "bytesize": bytesize, "parity": parity,
                                   "stopbits": stopbits, "timeout": timeout}
        if "://" not in url or url.startswith("hwgrep://"):
            options["exclusive"] = True  # one reader per device; another process gets "busy"
        return serial.serial_for_url(url, **options)

    return open_port


class SerialScanner:
    """Read scans from a port in a thread of its own, surviving noise and unplugging."""

    def __init__(self, opener: Opener, listener: ScannerListener, parser: ScanParser, *,
                 name: str = "scanner", debounce_s: float = 0.0,
                 on_candidate: Callable[[Candidate], None] | None = None,
                 retry_max_s: float = RETRY_MAX_S, clock: Callable[[], float] = time.monotonic):
        self.opener = opener
        self.listener = listener
        self.parser = parser
        self.name = name
        self.debounce_s = debounce_s
        self.on_candidate = on_candidate
        self.retry_max_s = retry_max_s
        self.clock = clock
        self.state: ScannerState | None = None
        self._stop = threading.Event()
        self._port: Port | None = None
        self._thread: threading.Thread | None = None
        self._last_counted: dict[str, float] = {}

    @classmethod
    def from_settings(cls, section: dict[str, Any], cards: CardReader,
                      listener: ScannerListener, **kwargs: Any) -> SerialScanner:
        """Build a scanner from the `[scanner]` settings section."""
        parser = ScanParser(cards, section["terminator"], section["prefix"], section["suffix"],
                            section["char_timeout_s"])
        opener = serial_opener(section["port"], section["baudrate"], section["bytesize"],
                               section["parity"], section["stopbits"])
        kwargs.setdefault("debounce_s", section["debounce_s"])
        return cls(opener, listener, parser, name=section["port"], **kwargs)

    def start(self) -> None:
        """Start the reader thread."""
        self._thread = threading.Thread(target=self._run, name=f"scanner {self.name}",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop reading, close the port and wait for the thread to end."""
        self._stop.set()
        port = self._port
        cancel = getattr(port, "cancel_read", None)
        if cancel:
            try:
                cancel()
            except Exception:  # the port may be closing under us; the timeout ends the read
                log.debug("scanner: cancel_read failed", exc_info=True)
        if self._thread:
            self._thread.join(timeout)

    def _report(self, state: ScannerState, detail: str) -> None:
        if state == self.state:
            return
        self.state = state
        level = logging.INFO if state in (ScannerState.CONNECTED, ScannerState.CLOSED) \
            else logging.WARNING
        log.log(level, "scanner %s: %s%s", self.name, state.value, f" ({detail})" if detail else "")
        try:
            self.listener.on_state(state, detail)
        except Exception:
            log.exception("scanner: state listener failed")

    def _run(self) -> None:
        delay = RETRY_FIRST_S
        while not self._stop.is_set():
            try:
                self._port = self.opener(self._read_timeout())
            except (serial.SerialException, OSError, ValueError) as exc:
                self._report(_state_for(exc), _describe(exc))
                self._stop.wait(delay)
                delay = min(delay * 2, self.retry_max_s)
                continue
            delay = RETRY_FIRST_S
            self._report(ScannerState.CONNECTED, self.name)
            try:
                self._read_until_gone()
            except (serial.SerialException, OSError) as exc:
                if not self._stop.is_set():
                    self._report(ScannerState.DISCONNECTED, _describe(exc))
            except Exception as exc:  # a bug must not end the reader: log, reopen, go on
                log.exception("scanner: reader failed")
                self._report(ScannerState.ERROR, f"reader failed: {exc}")
            finally:
                self._close_port()
        self._report(ScannerState.CLOSED, "stopped")

    def _read_timeout(self) -> float:
        if self.parser.terminator is None:
            return min(self.parser.char_timeout_s / 2, IDLE_READ_TIMEOUT_S)
        return IDLE_READ_TIMEOUT_S

    def _read_until_gone(self) -> None:
        port = self._port
        assert port is not None
        while not self._stop.is_set():
            # One byte wakes the read at once; then take everything already waiting.
            data = port.read(1)
            if data:
                waiting = port.in_waiting
                if waiting:
                    data += port.read(waiting)
            for candidate in self.parser.feed(data, self.clock()):
                self._deliver(candidate)

    def _deliver(self, candidate: Candidate) -> None:
        if self.on_candidate:
            try:
                self.on_candidate(candidate)
            except Exception:
                log.exception("scanner: candidate listener failed")
        card = candidate.card
        if card is None:
            return
        now = self.clock()
        last = self._last_counted.get(card)
        if self.debounce_s and last is not None and now - last < self.debounce_s:
            log.debug("scanner: card %s again within %.1f s; counted once", mask(card),
                      self.debounce_s)
            return
        self._last_counted = {c: t for c, t in self._last_counted.items()
                              if now - t < self.debounce_s}
        self._last_counted[card] = now
        try:
            self.listener.on_scan(card, candidate.raw)
        except Exception:
            log.exception("scanner: scan listener failed")

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except Exception:
                log.debug("scanner: closing the port failed", exc_info=True)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]


def _state_for(exc: BaseException) -> ScannerState:
    """Return DISCONNECTED for a missing device, ERROR for one that is there but refuses."""
    text = str(exc).lower()
    missing = ("no such file", "no ports found", "could not open port", "errno 2", "errno 6",
               "connection refused", "errno 111")
    if isinstance(exc, FileNotFoundError) or any(m in text for m in missing):
        if "permission denied" not in text and "exclusively lock" not in text:
            return ScannerState.DISCONNECTED
    return ScannerState.ERROR
