"""Wire the configured scanner and printer to the station (called by kiosk.serving).

The layer above the devices: scanner callbacks become `station.handle_scan` calls
and `station.devices[...]` states; a ready result is printed when `auto_print` is on.
Nothing here imports Flask: `start` only reads the app's settings and station.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kiosk import clock
from kiosk.devices.printer import SlipPrinter
from kiosk.devices.scanner import ScannerState, SerialScanner
from kiosk.devices.slip import slip_from_result
from kiosk.domain.cards import mask
from kiosk.domain.messages import plural

log = logging.getLogger(__name__)


class StationScanListener:
    """Turn scanner reports into station scans and the scanner's DeviceState."""

    def __init__(self, station: Any, printer: SlipPrinter | None = None,
                 auto_print: bool = False):
        self.station = station
        self.printer = printer
        self.auto_print = auto_print

    def on_scan(self, card: str, raw: bytes) -> None:
        """Run the scan through the station's one scan path; print if configured."""
        self.station.devices["scanner"].last_activity = clock.timestamp()
        log.debug("serial scan of %s: card %s", plural(len(raw), "%(num)d byte", "%(num)d bytes"),
                  mask(card))
        result = self.station.handle_scan(card, source="serial")
        if self.auto_print and self.printer and result.get("outcome") == "ready":
            slip = slip_from_result(self.printer.station, result, self.printer.language)
            if slip is not None:
                self.printer.submit(slip)  # the printer thread reports its own outcome

    def on_state(self, state: ScannerState, detail: str) -> None:
        """Show the scanner's state in /healthz."""
        self.station.devices["scanner"].set(state.value, detail)


def build_printer(settings: Any, station: Any) -> SlipPrinter | None:
    """Return the configured printer reporting to station.devices["printer"], or None."""
    section = settings.sections["printer"]
    if section["kind"] == "none":
        return None
    state = station.devices["printer"]

    def on_state(value: str, detail: str) -> None:
        state.set(value, detail)
        if value == "ok":
            state.last_activity = clock.timestamp()

    return SlipPrinter(section, settings.station.name, settings.station.language, on_state)


def build_scanner(settings: Any, station: Any, printer: SlipPrinter | None) -> SerialScanner | None:
    """Return the configured serial scanner wired to the station, or None."""
    section = settings.sections["scanner"]
    if section["kind"] != "serial":
        if section["kind"] == "evdev":
            log.warning("scanner.kind evdev is not supported yet; no scanner is read")
        return None
    listener = StationScanListener(station, printer, settings.printer.auto_print)
    return SerialScanner.from_settings(section, station.cards, listener)


def start(app: Any) -> Callable[[], None]:
    """Start the configured scanner and printer for the app's station; return a stopper."""
    settings = app.config["KIOSK_SETTINGS"]
    station = app.extensions["station"]
    printer = build_printer(settings, station)
    if printer is not None:
        station.devices["printer"].set("connected", printer.describe())
        station.printer = printer
        checker = _background(printer.check, "printer check")
    scanner = build_scanner(settings, station, printer)
    if scanner is not None:
        station.devices["scanner"].set("disconnected", f"opening {scanner.name}")
        scanner.start()

    def stop() -> None:
        if scanner is not None:
            scanner.stop()
        if printer is not None:
            checker.join(printer.timeout_s + 1)
            printer.close()
            station.printer = None

    return stop


def _background(func: Callable[[], Any], name: str) -> threading.Thread:
    thread = threading.Thread(target=func, name=name, daemon=True)
    thread.start()
    return thread
