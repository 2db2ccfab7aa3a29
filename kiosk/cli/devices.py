"""Hardware set-up commands: `kiosk scanner-test` and `kiosk printer-test`."""

from __future__ import annotations

import threading
import time

import click

from kiosk.cli.context import StationContext, fail, pass_station
from kiosk.domain.messages import plural


class _Echo:
    """Print what the scanner reports, as it arrives."""

    def __init__(self, count: int | None):
        self.count = count
        self.seen = 0
        self.done = threading.Event()

    def on_candidate(self, candidate) -> None:
        self.seen += 1
        verdict = f"valid card {candidate.card}" if candidate.card else candidate.problem
        click.echo(f"scan {self.seen}: {candidate.raw!r} -> {verdict}")
        if self.count and self.seen >= self.count:
            self.done.set()

    def on_scan(self, card: str, raw: bytes) -> None:
        """Valid scans are shown by on_candidate already."""

    def on_state(self, state, detail: str) -> None:
        click.echo(f"scanner {state.value}" + (f": {detail}" if detail else ""))


@click.command("scanner-test")
@click.option("--count", type=click.IntRange(min=1), help="Stop after this many scans.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0, min_open=True),
              help="Stop after this many seconds.")
@pass_station
def scanner_test(station: StationContext, count: int | None, timeout_s: float | None) -> None:
    """Open the configured scanner and show each scan as it arrives, with its raw bytes."""
    from kiosk.devices.scanner import SerialScanner
    from kiosk.domain.cards import CardReader

    settings = station.settings
    section = settings.sections["scanner"]
    if section["kind"] != "serial":
        fail(f"{settings.source}: scanner.kind is {section['kind']}; set it to serial "
             "and scanner.port to the device (a keyboard-wedge scanner types into the screen)",
             code=2)
    c = settings.cards
    echo = _Echo(count)
    scanner = SerialScanner.from_settings(section, CardReader(c.patterns, c.strip, c.uppercase),
                                          echo, debounce_s=0, on_candidate=echo.on_candidate)
    click.echo(f"Reading {section['port']} (terminator {section['terminator']}); "
               "Ctrl-C to stop")
    scanner.start()
    deadline = time.monotonic() + timeout_s if timeout_s else None
    try:
        while not echo.done.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            echo.done.wait(0.2 if left is None else min(left, 0.2))
    except KeyboardInterrupt:
        pass
    finally:
        scanner.stop()
    click.echo(plural(echo.seen, "%(num)d scan", "%(num)d scans"))
    if count and echo.seen < count:
        fail(f"Only {echo.seen} of {plural(count, '%(num)d scan', '%(num)d scans')} arrived")


@click.command("printer-test")
@pass_station
def printer_test(station: StationContext) -> None:
    """Print a test slip (with æ, ø, å) on the configured printer."""
    from kiosk.devices.printer import SlipPrinter
    from kiosk.devices.slip import sample_slip

    settings = station.settings
    section = settings.sections["printer"]
    if section["kind"] == "none":
        fail(f"{settings.source}: printer.kind is none; configure a printer in [printer]",
             code=2)
    printer = SlipPrinter(section, settings.station.name, settings.station.language)
    result = printer.print_slip(sample_slip(settings.station.name, settings.station.language))
    if not result.ok:
        fail(f"Test slip not printed: {result.detail}")
    click.echo(f"Test slip printed on {printer.describe()}")
    if result.detail.endswith("paper low"):
        click.echo("Paper low: the roll is nearly used up; put in a new one soon")


COMMANDS = [scanner_test, printer_test]
