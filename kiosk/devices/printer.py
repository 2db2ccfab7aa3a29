"""The receipt printer: slips sent through python-escpos, one job at a time, off the web threads.

Each job opens the device afresh and closes it after, so a printer that was off,
out of paper or unplugged works again on the next job once it is back. Failures
come back as a `PrintResult` and a state report, never as an exception.

Before each job the printer is asked for its paper sensors (DLE EOT 4, real-time
status). Paper end: the slip is not sent and the job fails with "out of paper".
Paper near end: the slip prints and the state says "paper low". A printer that does
not answer within `status_timeout_s` prints as before; files are not asked.
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
from escpos.constants import RT_STATUS_PAPER

from kiosk.devices.slip import Slip, compose, slip_from_result

log = logging.getLogger(__name__)

LOST = (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN, errno.ECONNABORTED)
StateReport = Callable[[str, str], None]  # (state, detail): "ok" | "error"

# The answer to DLE EOT 4 is one byte: bits 1 and 4 always set, bits 0 and 7 clear;
# bits 2+3 the paper near-end sensor, bits 5+6 the paper end sensor.
STATUS_FIXED_MASK, STATUS_FIXED = 0x93, 0x12
PAPER_NEAR_END, PAPER_END = 0x0C, 0x60
STATUS_KINDS = ("escpos-network", "escpos-serial", "escpos-usb")  # have a way back


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
                 on_state: StateReport | None = None, status_timeout_s: float | None = None):
        self.section = section
        self.kind = section["kind"]
        self.profile = section["profile"]
        self.timeout_s = float(section["timeout_s"])
        # How long to wait for the paper status; printers without it cost this per job.
        self.status_timeout_s = (min(self.timeout_s, 0.5) if status_timeout_s is None
                                 else status_timeout_s)
        self._paper_low = False
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
        """Open the printer, ask for paper, send data unless it is out; return the outcome."""
        return self._job(data)

    def print_slip(self, slip: Slip) -> PrintResult:
        """Compose and print one slip now, in this thread."""
        return self.send(compose(slip, self.profile))

    def check(self) -> PrintResult:
        """Open the printer and ask for paper without printing, to learn whether it is there."""
        return self._job(None)

    def _job(self, data: bytes | None) -> PrintResult:
        """Run one job (data None: only open and ask); report the state and return it."""
        started = time.perf_counter()
        try:
            paper = self._deliver(data)
        except Exception as exc:  # every driver error means "this slip did not print"
            detail = f"{self.describe()}: {_reason(exc)}"
            log.warning("printing failed: %s", detail)
            self._report("error", detail)
            return PrintResult(False, detail)
        if paper == "out":
            detail = f"{self.describe()}: out of paper"
            log.warning("printing failed: %s; the slip was not sent", detail)
            self._report("error", detail)
            return PrintResult(False, detail)
        if (paper == "low") != self._paper_low:
            self._paper_low = paper == "low"
            if self._paper_low:
                log.warning("%s: paper low; replace the roll soon", self.describe())
        detail = self.describe() + (": paper low" if paper == "low" else "")
        if data:
            log.info("slip printed on %s in %.0f ms", detail,
                     (time.perf_counter() - started) * 1000)
        self._report("ok", detail)
        return PrintResult(True, detail)

    def _deliver(self, data: bytes | None) -> str | None:
        """Open the device, ask for paper, send data unless it is out; return the paper state."""
        dev = self.device()
        if self.kind == "escpos-network":
            # Our own socket: escpos's Network.open leaks its socket when connect fails.
            with socket.create_connection((self.section["host"], _int(self.section["port"])),
                                          timeout=self.timeout_s) as sock:
                dev.device = sock
                try:
                    paper = self._paper(dev)
                    if data is not None and paper != "out":
                        dev._raw(data)  # the slip is composed already; one write per job
                        _finish_network_job(sock, self.timeout_s)
                finally:
                    dev.device = False  # closed by the with block, not by escpos
            return paper
        dev.open()
        try:
            paper = self._paper(dev)
            if data and paper != "out":
                dev._raw(data)
        finally:
            dev.close()
        return paper

    def _paper(self, dev: Any) -> str | None:
        """Return "out", "low", "ok", or None when this printer cannot or did not say."""
        if self.kind not in STATUS_KINDS:
            return None
        return paper_state(query_paper(dev, self.status_timeout_s))

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


def query_paper(dev: Any, timeout_s: float) -> int | None:
    """Send DLE EOT 4 on an open device; return its status byte, or None without one.

    python-escpos's `paper_status()` sends the same bytes, but it reads with the
    device's full timeout (a socket raises on silence) and takes any byte, even a
    stray one, as "no paper". Here silence and stray bytes mean "unknown".
    Files and Dummy have no way back and are not asked.
    """
    if isinstance(dev, (escpos_printer.File, escpos_printer.Dummy)):
        return None
    dev._raw(RT_STATUS_PAPER)  # a failed write is a failed job, as for the slip
    try:
        reply = _read_reply(dev, timeout_s)
    except Exception as exc:  # silence or no read channel: print as if not asked
        log.debug("no paper status from the printer: %s", _reason(exc))
        return None
    valid = [b for b in reply if b & STATUS_FIXED_MASK == STATUS_FIXED]
    if reply and not valid:
        log.debug("printer answered the paper query with %r; ignored", bytes(reply))
    return valid[-1] if valid else None


def paper_state(status: int | None) -> str | None:
    """Return "out", "low" or "ok" for a DLE EOT 4 status byte; None for no byte."""
    if status is None:
        return None
    if status & PAPER_END == PAPER_END:
        return "out"
    if status & PAPER_NEAR_END == PAPER_NEAR_END:
        return "low"
    return "ok"


def _read_reply(dev: Any, timeout_s: float) -> bytes:
    """Read what the printer answered within timeout_s, by the device's own channel."""
    conn = dev.device
    if isinstance(conn, socket.socket):
        old = conn.gettimeout()
        conn.settimeout(timeout_s)
        try:
            return conn.recv(16)
        finally:
            conn.settimeout(old)
    if isinstance(dev, escpos_printer.Serial):
        old = conn.timeout
        conn.timeout = timeout_s
        try:
            return bytes(conn.read(16))
        finally:
            conn.timeout = old
    if isinstance(dev, escpos_printer.Usb):
        return bytes(conn.read(dev.in_ep, 16, max(1, int(timeout_s * 1000))))
    return b""


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
