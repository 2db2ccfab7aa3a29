"""Whether the database can be reached, and what the station does meanwhile.

`Outage` is what the core sees of this package: `Station.offline` (answering scans and
"I have collected it" while the database is away) and `app.extensions["outage"]`
(/healthz, the staff pages' 503, /metrics). The watcher thread (kiosk.outage.runtime)
marks the database away or back; a scan that meets a dead connection first marks it
away at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError

from kiosk import clock
from kiosk.dbwatch import is_disk_full
from kiosk.domain.lookup import LookupResult
from kiosk.localtime import local_time
from kiosk.outage import snapshot
from kiosk.outage.journal import Journal, open_journal
from kiosk.outage.snapshot import SnapshotData

log = logging.getLogger(__name__)


def unreachable(exc: BaseException | None) -> bool:
    """Return True when a driver error says the database server cannot be reached.

    A refused or dropped connection (no SQLSTATE from the server), SQLSTATE class 08
    (connection exception) and 57P01-57P03 (the server shutting down or starting) count;
    a full disk, a constraint or a cancelled statement do not.
    """
    seen = 0
    while exc is not None and seen < 4:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        orig = getattr(exc, "orig", None) if isinstance(exc, DBAPIError) else exc
        module = type(orig).__module__ if orig is not None else ""
        if module.startswith("psycopg") and not is_disk_full(orig):
            sqlstate = getattr(orig, "sqlstate", None)
            if type(orig).__name__ in ("OperationalError", "InterfaceError") and (
                    sqlstate is None or sqlstate.startswith("08")
                    or sqlstate in ("57P01", "57P02", "57P03")):
                return True
        exc = exc.__cause__
        seen += 1
    return False


def clock_time(moment: float | None) -> str:
    """Return a Unix time as the station's wall-clock HH:MM ("" for none)."""
    if moment is None:
        return ""
    return local_time(dt.datetime.fromtimestamp(moment, dt.UTC), "%H:%M")


class Outage:
    """The database link as the station sees it: up, or away since when; the copy; the journal."""

    def __init__(self, station: Any, path: Path, journal_path: Path):
        self.station = station
        self.path = path
        self.journal_path = journal_path
        self._journal: Journal | None = None
        self._journal_lock = threading.Lock()
        self.data: SnapshotData | None = snapshot.load(path, station.branch)
        self.down_since: float | None = None
        self.detail = ""
        self.file_error: str | None = None  # the last write of the snapshot file failed
        self.wake = threading.Event()  # a request met a dead connection: look now
        self.changed = threading.Condition()  # notified on every state or snapshot change

    @property
    def journal(self) -> Journal:
        """Return the journal, opened at first use: CLI commands never create its file."""
        if self._journal is None:
            with self._journal_lock:
                if self._journal is None:
                    self._journal = open_journal(self.journal_path)
        return self._journal

    def close(self) -> None:
        """Close the journal if it was opened."""
        if self._journal is not None:
            self._journal.close()

    # --- the state ----------------------------------------------------------------------

    def down(self) -> bool:
        """Return True while the database is known to be away."""
        return self.down_since is not None

    def serving(self) -> bool:
        """Return True while scans are answered from the snapshot."""
        return self.down_since is not None and self.data is not None

    def mark_down(self, detail: str) -> None:
        """Note that the database cannot be reached (from now, unless already noted)."""
        with self.changed:
            if self.down_since is None:
                self.down_since = clock.timestamp()
                log.warning("database unreachable (%s); %s", detail,
                            "scans answered from the snapshot" if self.data is not None
                            else "no snapshot to answer scans from")
            self.detail = detail[:200]
            self.changed.notify_all()

    def mark_up(self) -> None:
        """Note that the database answers again."""
        with self.changed:
            if self.down_since is not None:
                log.warning("database reachable again after %.0f s",
                            clock.timestamp() - self.down_since)
            self.down_since, self.detail = None, ""
            self.changed.notify_all()

    def set_data(self, data: SnapshotData) -> None:
        """Put a fresh snapshot in place."""
        with self.changed:
            self.data = data
            self.changed.notify_all()

    def database_failed(self, exc: BaseException) -> bool:
        """Take note of a failed statement; return True when scans can go on from the copy."""
        if not unreachable(exc):
            return False
        self.mark_down(type(getattr(exc, "orig", None) or exc).__name__)
        self.wake.set()
        return self.data is not None

    # --- what the station does meanwhile ------------------------------------------------

    def lookup(self, card: str) -> LookupResult:
        """Answer a scan from the snapshot, leaving out bags collected here meanwhile."""
        k = self.station.settings.kiosk
        data = self.data
        if data is None:
            return LookupResult(outcome="nothing")
        return snapshot.lookup(data, card, self.journal.pending_orders(),
                               show_titles=k.show_titles, show_names=k.show_names)

    def collect(self, card: str, order_id: int) -> dict[str, Any]:
        """Journal "I have collected it" for an order shown to card; return the screen's answer."""
        self.journal.add(order_id, card, self.station.name)  # on disk before the thanks
        log.info("order %s collected at the kiosk while the database is away (journaled)",
                 order_id)
        return {"order_id": order_id, "collected": True, "items": [],
                "ils": "offline" if self.station.lending is not None else "none",
                "refused": [], "status": "collected", "journaled": True}

    # --- what is reported ---------------------------------------------------------------

    def age(self) -> float | None:
        """Return the snapshot's age in seconds (None without one)."""
        data = self.data
        return max(0.0, clock.timestamp() - data.taken_at) if data is not None else None

    def health(self) -> dict[str, Any]:
        """Return /healthz's `snapshot` part."""
        age = self.age()
        return {**snapshot.describe(self.data),
                "age_s": round(age, 1) if age is not None else None,
                "answering_scans": self.serving(),
                "pending_collects": self.pending(), "file_error": self.file_error}

    def pending(self) -> int | None:
        """Return how many collects wait for the database (None: the journal cannot open)."""
        try:
            return len(self.journal.pending_orders())
        except OSError:
            log.exception("the outage journal cannot be opened")
            return None

    def since_text(self) -> tuple[str, str]:
        """Return (away since, copy of) as the station's wall-clock HH:MM."""
        data = self.data
        return clock_time(self.down_since), clock_time(data.taken_at if data else None)
