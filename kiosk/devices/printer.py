"""The receipt printer: slips sent through python-escpos, one job at a time, off the web threads.

Each job opens the device afresh and closes it after, so a printer that was off,
out of paper or unplugged works again on the next job once it is back. Failures
come back as a `PrintResult` and a state report, never as an exception.
"""

from __future__ import annotations

import errno
import logging
import queue
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from escpos import printer as escpos_printer

from kiosk.devices.slip import Slip, compose, slip_from_result

log = logging.getLogger(__name__)

LOST = (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN, errno.ECONNABORTED)
StateReport = Callable[[str, str], None]  # (state, detail): "ok" | "error"


@dataclass(frozen=True)
class PrintResult:
    """Whether a slip came out, and what went wrong if not."""

    ok: bool
    detail: str = ""


def _int(value: Any) -> int:
    return int(value, 0) if isinstance(value, str) else int(value)


class SlipPrinter:
    """Print slips on the `[printer]` configured; report "ok" or "error" with a reason."""

    def __init__(self, section: dict[str, Any], station: str, language: str = "nb",
                 on_state: StateReport | None = None):
        self.section = section
        self.kind = section["kind"]
        self.profile = section["profile"]
        self.timeout_s = float(section["timeout_s"])
        self.station = station
        self.language = language
        self.on_state = on_state
        self._jobs: queue.Queue[tuple[bytes, Future] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()

    def describe(self) -> str:
        """Return where the printer is, for messages and logs."""
        s = self.section
        return {
            "escpos-network": f"network printer {s['host']}:{s['port']}",
            "escpos-serial": f"serial printer {s['port']}",
            "escpos-usb": f"USB printer {s['vendor_id']}:{s['product_id']}",
            "file": f"printer device {s['path']}",
        }.get(self.kind, "no printer")

    def device(self) -> Any:
        """Return a fresh, unopened python-escpos printer for the configured kind."""
        s, t = self.section, self.timeout_s
        if self.kind == "escpos-network":
            return escpos_printer.Network(s["host"], _int(s["port"]), timeout=t,
                                          profile=self.profile)
        if self.kind == "escpos-serial":
            return escpos_printer.Serial(str(s["port"]), baudrate=s["baudrate"], timeout=t,
                                         profile=self.profile)
        if self.kind == "escpos-usb":
            if not escpos_printer.Usb.is_usable():
                raise RuntimeError("USB printing needs pyusb (pip install pyusb)")
            return escpos_printer.Usb(_int(s["vendor_id"]), _int(s["product_id"]),
                                      timeout=int(t * 1000), profile=self.profile)
        if self.kind == "file":
            return escpos_printer.File(s["path"], profile=self.profile)
        raise RuntimeError(f"printer.kind {self.kind!r} cannot print")

    # --- synchronous: the worker thread and the CLI ------------------------------------

    def send(self, data: bytes) -> PrintResult:
        """Open the printer, send data, close it; return the outcome and report the state."""
        started = time.perf_counter()
        try:
            dev = self.device()
            if self.kind == "escpos-network":
                # Our own socket: escpos's Network.open leaks its socket when connect fails.
                with socket.create_connection((self.section["host"], _int(self.section["port"])),
                                              timeout=self.timeout_s) as sock:
                    dev.device = sock
                    try:
                        dev._raw(data)  # the slip is composed already; one write per job
                        _finish_network_job(sock, self.timeout_s)
                    finally:
                        dev.device = False  # closed by the with block, not by escpos
            else:
                dev.open()
                try:
                    dev._raw(data)
                finally:
                    dev.close()
        except Exception as exc:  # every driver error means "this slip did not print"
            detail = f"{self.describe()}: {_reason(exc)}"
            log.warning("printing failed: %s", detail)
            self._report("error", detail)
            return PrintResult(False, detail)
        if data:
            log.info("slip printed on %s in %.0f ms", self.describe(),
                     (time.perf_counter() - started) * 1000)
        self._report("ok", self.describe())
        return PrintResult(True, self.describe())

    def print_slip(self, slip: Slip) -> PrintResult:
        """Compose and print one slip now, in this thread."""
        return self.send(compose(slip, self.profile))

    def check(self) -> PrintResult:
        """Open and close the printer without printing, to learn whether it is there."""
        if self.kind == "escpos-network":  # a connection alone makes no paper move
            try:
                with socket.create_connection((self.section["host"], _int(self.section["port"])),
                                              timeout=self.timeout_s):
                    pass
            except OSError as exc:
                detail = f"{self.describe()}: {_reason(exc)}"
                self._report("error", detail)
                return PrintResult(False, detail)
            self._report("ok", self.describe())
            return PrintResult(True, self.describe())
        return self.send(b"")

    # --- asynchronous: the web threads and the scanner thread --------------------------

    def submit(self, slip: Slip) -> Future:
        """Queue a slip for the printer thread; return a Future of its PrintResult."""
        future: Future = Future()
        self._ensure_worker()
        self._jobs.put((compose(slip, self.profile), future))
        return future

    def print_result(self, result: dict[str, Any], wait_s: float | None = None) -> PrintResult:
        """Print the slip of a scan's result, waiting at most wait_s for the printer."""
        slip = slip_from_result(self.station, result, self.language)
        if slip is None:
            return PrintResult(False, "nothing on the shelf to print")
        future = self.submit(slip)
        wait = wait_s if wait_s is not None else self.timeout_s * 2 + 1
        try:
            return future.result(timeout=wait)
        except TimeoutError:
            detail = f"{self.describe()}: not answering within {wait:.0f} s"
            self._report("error", detail)
            return PrintResult(False, detail)

    def close(self) -> None:
        """Stop the printer thread after the jobs already queued."""
        if self._worker and self._worker.is_alive():
            self._jobs.put(None)
            self._worker.join(self.timeout_s * 2 + 1)

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="printer", daemon=True)
                self._worker.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            data, future = job
            if future.set_running_or_notify_cancel():
                future.set_result(self.send(data))

    def _report(self, state: str, detail: str) -> None:
        if self.on_state:
            try:
                self.on_state(state, detail)
            except Exception:
                log.exception("printer: state listener failed")


def _finish_network_job(sock: socket.socket, timeout_s: float) -> None:
    """End a raw-9100 job as CUPS does: close our side, wait for the printer to close.

    A printer that resets the connection instead (it went off mid-job) raises here,
    so the job counts as failed rather than silently lost. A printer that keeps the
    connection open past the timeout has the data and is taken as done.
    """
    sock.shutdown(socket.SHUT_WR)
    sock.settimeout(min(timeout_s, 2.0))
    try:
        while sock.recv(256):
            pass  # status bytes some printers send back; not needed here
    except TimeoutError:
        log.debug("printer kept the connection open; job taken as done")


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    lowered = text.lower()
    if "refused" in lowered or "not found" in lowered or "no such" in lowered:
        text += " (is the printer switched on and connected?)"
    elif isinstance(exc, (ConnectionError, OSError)) and exc.errno in LOST:
        text = f"connection lost mid-job ({text}); the printer may be off or out of paper"
    return text[:300]
