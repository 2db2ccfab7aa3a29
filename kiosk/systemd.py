"""Talk to systemd: READY=1 when the station serves, WATCHDOG=1 while it is healthy,
and log lines journald keeps (one per event, with its priority).

The notify protocol is one datagram per message to the unix socket named by
$NOTIFY_SOCKET (a leading "@" means the abstract namespace). Without that
variable (not run by systemd, or not Type=notify) every function here does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable

from flask import Flask

log = logging.getLogger(__name__)

# A check returns None when all is well, or a short text saying what is wrong.
Check = Callable[[], str | None]


def notify(message: str) -> bool:
    """Send one notification (e.g. "READY=1") to systemd; return whether it was sent."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("could not notify systemd (%s): %s", message.split("=")[0], exc)
        return False
    return True


# syslog priorities: journald reads a "<N>" line prefix as the entry's priority.
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}


def under_journald(stream=None) -> bool:
    """Return whether stream (default stderr) is connected to the journal ($JOURNAL_STREAM)."""
    wanted = os.environ.get("JOURNAL_STREAM", "")
    if not wanted:
        return False
    try:
        st = os.fstat((stream or sys.stderr).fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return wanted == f"{st.st_dev}:{st.st_ino}"


class OneLineFormatter(logging.Formatter):
    """Format each record as exactly one line: level, station, logger, message, folded traceback.

    Under journald the time is left out (the journal keeps its own) and a "<N>"
    prefix carries the priority, so `journalctl -u kiosk -p warning` works.
    """

    def __init__(self, journal: bool = False):
        when = "" if journal else "%(asctime)s "
        super().__init__(when + "%(levelname)s [%(station)s] %(name)s: %(message)s")
        self.journal = journal

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "station"):
            record.station = "-"
        text = super().format(record).replace("\r\n", "\n").strip("\n")
        text = " | ".join(line for line in text.split("\n") if line.strip())
        if self.journal:
            level = max((lv for lv in _PRIORITY if lv <= record.levelno), default=logging.DEBUG)
            text = f"<{_PRIORITY[level]}>{text}"
        return text


def err_prefix(stream=None) -> str:
    """Return "<3>" (the journal's err priority) when stream (default stderr) is the journal."""
    return "<3>" if under_journald(stream) else ""


def reexec() -> None:
    """Replace this process by the same command anew (same PID, configuration read again)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # orig_argv is the command as started (interpreter, script or -c, arguments).
    os.execv(sys.executable, sys.orig_argv)


def watchdog_interval() -> float | None:
    """Return seconds between WATCHDOG=1 pings (a third of WatchdogSec), or None if off."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None  # the watchdog is meant for another process (e.g. our parent)
    return int(usec) / 1_000_000 / 3


def database_check(app: Flask) -> Check:
    """Return a check that the database answers a trivial query."""
    from sqlalchemy import text

    from kiosk.extensions import db

    def check() -> str | None:
        outage = app.extensions.get("outage")  # kiosk.outage: patrons served from the copy
        if outage is not None and outage.serving():
            return None
        with app.app_context():
            try:
                db.session.execute(text("SELECT 1"))
            except Exception as exc:  # any driver error: the database does not answer
                return f"database does not answer: {type(exc).__name__}"
            finally:
                db.session.remove()
        return None

    return check


def scanner_check(app: Flask) -> Check | None:
    """Return a check that the scanner's reader thread lives, or None without a scanner."""
    settings = app.config["KIOSK_SETTINGS"]
    if settings.scanner.kind != "serial":  # keyboard wedge: no thread of ours reads it
        return None

    def check() -> str | None:
        station = app.extensions["station"]
        reader = getattr(station, "scanner", None) or app.extensions.get("kiosk.scanner")
        alive = getattr(reader, "is_alive", None)
        if callable(alive):
            return None if alive() else "scanner thread has stopped"
        # kiosk.devices names the reader thread "scanner <port>".
        if any(t.name.startswith("scanner") and t.is_alive() for t in threading.enumerate()):
            return None
        return "scanner thread is not running"

    return check


def database_file_check(app: Flask) -> Check:
    """Return a check that the SQLite file is still the one opened (not removed or replaced).

    `SELECT 1` still answers from the open file after it was removed; only a restart
    opens (and creates) the database at its path again, so this check failing makes
    the watchdog stop pinging and systemd restart the station.
    """

    def check() -> str | None:
        watch = app.extensions.get("db_watch")
        problem = watch.file_problem() if watch is not None else None
        return f"the database file {watch.path} was {problem}" if problem else None

    return check


def health_checks(app: Flask) -> list[Check]:
    """Return the checks the watchdog runs: database (answers, its file is there), scanner,
    and any a service registered."""
    checks = [database_check(app), database_file_check(app)]
    scanner = scanner_check(app)
    if scanner:
        checks.append(scanner)
    checks.extend(app.extensions.get("kiosk.watchdog_checks", []))
    return checks


def problems(checks: list[Check]) -> list[str]:
    """Run every check and return what is wrong (empty when healthy)."""
    found = []
    for check in checks:
        try:
            problem = check()
        except Exception as exc:  # a broken check counts as unhealthy, never kills the loop
            problem = f"health check failed: {exc!r}"
        if problem:
            found.append(problem)
    return found


class Watchdog:
    """Ping systemd's watchdog every interval while every check passes."""

    def __init__(self, checks: list[Check], interval: float):
        self.checks = checks
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="systemd-watchdog", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 1)

    def _run(self) -> None:
        healthy = True
        while True:
            found = problems(self.checks)
            if found:
                # No ping: if this lasts past WatchdogSec, systemd restarts the station.
                log.warning("watchdog withheld: %s", "; ".join(found))
                notify("STATUS=unhealthy: " + "; ".join(found))
            else:
                notify("WATCHDOG=1")
                if not healthy:
                    log.info("watchdog: healthy again")
                    notify("STATUS=serving")
            healthy = not found
            if self._stop.wait(self.interval):
                return


def ready_hook(app: Flask, url: str = "") -> Callable[[], None]:
    """Return serve()'s on_ready: check health, send READY=1, start the watchdog if asked."""

    def on_ready() -> None:
        checks = health_checks(app)
        # The database must answer before we call ourselves ready; systemd's
        # TimeoutStartSec= ends the wait if it never does.
        while found := problems(checks[:1]):
            log.warning("not ready yet: %s", "; ".join(found))
            notify("STATUS=waiting for the database")
            time.sleep(1)
        notify(f"READY=1\nSTATUS=serving {url}".strip())
        interval = watchdog_interval()
        if interval:
            app.extensions["kiosk.watchdog"] = Watchdog(checks, interval).start()
            log.info("systemd watchdog: checking every %.1f s", interval)

    return on_ready
