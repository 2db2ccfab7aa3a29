"""The watcher thread: keeps the snapshot fresh and tells when the database goes and returns.

It holds one connection of its own that LISTENs on `kiosk_orders` (every station on the
database NOTIFYs there when it changes an order, see kiosk.outage.notify): a notification
for this branch refreshes the snapshot at once, and every `poll_s` it is refreshed anyway
(changes made by other means). Losing that connection, or failing to make it, marks the
database away; while away it tries again every `retry_s`. Once it connects again it first
replays the journal's collects, then refreshes the snapshot, and only then marks the
database back, so a scan never shows a bag collected during the outage.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from kiosk import clock
from kiosk.appsetup import PG_KEEPALIVE
from kiosk.outage import replay, snapshot
from kiosk.outage.notify import CHANNEL, EVERY_BRANCH
from kiosk.outage.state import Outage

log = logging.getLogger(__name__)

POLL_S = 5.0
RETRY_S = 1.0
CONNECT_TIMEOUT_S = 3
REWRITE_S = 60.0  # an unchanged copy's file is rewritten this often (its time, for restarts)


class Watcher:
    """Watch one database for one station's branch; refresh its snapshot; replay its journal."""

    def __init__(self, outage: Outage, engine: Engine, scope: Callable[[], Any],
                 poll_s: float = POLL_S, retry_s: float = RETRY_S):
        self.outage = outage
        self.engine = engine
        self.scope = scope
        self.poll_s, self.retry_s = poll_s, retry_s
        url = make_url(str(engine.url)).set(drivername="postgresql")
        self.conninfo = url.render_as_string(hide_password=False)
        self.stop = threading.Event()
        self.written_at = float("-inf")  # monotonic time the file was last written
        self.thread = threading.Thread(target=self.run, name="outage-watcher", daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.watch()
            except (psycopg.Error, SQLAlchemyError, OSError) as exc:
                self.outage.mark_down(f"{type(exc).__name__}: {str(exc).strip()[:150]}")
            except Exception:  # never let the thread die: log and try again
                log.exception("outage watcher failed")
            if self.stop.is_set():  # watch() may have used up the wake-up close() gave
                return
            self.outage.wake.wait(self.retry_s)
            self.outage.wake.clear()

    def watch(self) -> None:
        """Connect, LISTEN, catch up, then follow notifications until the connection fails."""
        branch = self.outage.station.branch
        with psycopg.connect(self.conninfo, autocommit=True,
                             connect_timeout=CONNECT_TIMEOUT_S, **PG_KEEPALIVE) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.catch_up()
            due = time.monotonic() + self.poll_s
            while not self.stop.is_set():
                dirty = False
                for note in conn.notifies(timeout=0.25, stop_after=1):
                    dirty = dirty or note.payload in (branch, EVERY_BRANCH)
                if self.outage.wake.is_set():  # a request met a dead connection: is it ours?
                    self.outage.wake.clear()
                    conn.execute("SELECT 1")
                    if self.outage.down():
                        self.catch_up()
                if dirty or time.monotonic() >= due:
                    if self.outage.pending():  # some failed the last time
                        self.catch_up()
                    else:
                        self.refresh()
                    due = time.monotonic() + self.poll_s

    def catch_up(self) -> None:
        """Replay pending collects and refresh the snapshot; then the database is back."""
        if self.outage.pending():  # None: no journal to replay (logged)
            report = replay.replay(self.outage.journal, self.outage.station, self.scope)
            if report.stopped:
                raise OSError("the database failed again during the replay")
        self.refresh()
        self.outage.mark_up()

    def refresh(self) -> None:
        """Read the branch's open orders and put them in place (the file only if changed)."""
        station = self.outage.station
        k = station.settings.kiosk
        with self.engine.connect() as conn:
            rows = snapshot.read_orders(conn, station.branch, titles=k.show_titles,
                                        names=k.show_names)
            conn.rollback()
        data = snapshot.build(station.branch, rows, clock.timestamp())
        old = self.outage.data
        stale_file = time.monotonic() - self.written_at > REWRITE_S
        if old is None or old.digest != data.digest or stale_file:
            try:
                snapshot.write(self.outage.path, data)
                self.written_at = time.monotonic()
                self.outage.file_error = None
            except OSError as exc:  # the copy in memory still serves this run, not a restart
                log.error("cannot write the snapshot %s: %s", self.outage.path, exc)
                self.outage.file_error = str(exc)[:200]
        self.outage.set_data(data)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.outage.wake.set()
        self.thread.join(timeout=10)


def start(app: Any) -> Callable[[], None]:
    """Start the watcher of a PostgreSQL station; return its stopper."""
    outage = app.extensions.get("outage")
    if outage is None:
        return lambda: None
    from kiosk.appsetup import session_scope
    from kiosk.extensions import db

    outage.pending()  # open the journal now, not in the first scan of an outage
    with app.app_context():
        engine = db.engine
    watcher = Watcher(outage, engine, session_scope(app),
                      poll_s=float(app.config.get("OUTAGE_POLL_S", POLL_S)),
                      retry_s=float(app.config.get("OUTAGE_RETRY_S", RETRY_S)))
    app.extensions["outage_watcher"] = watcher
    watcher.start()
    return watcher.close
