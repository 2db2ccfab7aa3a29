"""What the station knows about its database beyond "it answers": disk full, file gone.

- **Disk full.** Any statement failing with SQLITE_FULL or PostgreSQL's `disk_full` (53100)
  marks the database full. /healthz then reports `disk full` (503), writes answer 507 (API)
  or a clear message, and the mark goes again by itself once there is room: for SQLite when
  the file may grow again (`MIN_FREE_PAGES` below `max_page_count`, and `MIN_FREE_BYTES`
  free on its file system), for PostgreSQL `RECHECK_S` after the last failure (a write
  still failing marks it again).
- **File gone (SQLite).** At the first connection the identity of the database file (device
  and inode) is noted. When the path no longer names that file (unlinked, or replaced by
  another), every commit is refused with DatabaseFileGone instead of being acknowledged
  into a file nobody will open again, and /healthz reports it (503) until a restart.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url

from kiosk.extensions import db

log = logging.getLogger(__name__)

MIN_FREE_BYTES = 1024 * 1024
MIN_FREE_PAGES = 16
RECHECK_S = 30.0
SQLITE_FULL = 13
PG_DISK_FULL = "53100"


class DatabaseFileGone(Exception):
    """The SQLite file was removed or replaced while the station ran; nothing is written."""


def is_disk_full(exc: BaseException | None) -> bool:
    """Return True when a driver error (or its cause) says the disk or database is full."""
    seen = 0
    while exc is not None and seen < 4:
        if isinstance(exc, sqlite3.Error) and (
                getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL
                or "database or disk is full" in str(exc)):
            return True
        if getattr(exc, "sqlstate", None) == PG_DISK_FULL:
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__
        seen += 1
    return False


class DatabaseWatch:
    """Watch one engine for a full disk and (SQLite) for its file going away."""

    def __init__(self, engine: Engine):
        url = make_url(str(engine.url))
        database = url.database if url.get_backend_name() == "sqlite" else None
        self.path = Path(database) if database and database != ":memory:" else None
        self.engine = engine
        self._lock = threading.Lock()
        self._identity: tuple[int, int] | None = None
        self.full_since: float | None = None
        event.listen(engine, "handle_error", self._on_error)
        if self.path is not None:
            event.listen(engine, "connect", self._on_connect)
            event.listen(engine, "commit", self._before_commit)

    # --- the file -----------------------------------------------------------------------

    def _on_connect(self, _dbapi_connection, _record) -> None:
        with self._lock:
            if self._identity is None:
                try:
                    st = os.stat(self.path)
                except OSError:
                    return
                self._identity = (st.st_dev, st.st_ino)

    def file_problem(self) -> str | None:
        """Return "removed" or "replaced" when the path no longer names the open file."""
        if self.path is None or self._identity is None:
            return None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return "removed"
        except OSError:
            return None  # a permission hiccup is not proof; the statements will tell
        return None if (st.st_dev, st.st_ino) == self._identity else "replaced"

    def _before_commit(self, _conn) -> None:
        problem = self.file_problem()
        if problem:
            log.error("database file %s was %s while the station ran: write refused",
                      self.path, problem)
            raise DatabaseFileGone(f"the database file {self.path} was {problem}")

    # --- disk full ----------------------------------------------------------------------

    def _on_error(self, context) -> None:
        if is_disk_full(context.original_exception):
            if self.full_since is None:
                log.error("database disk full: %s", context.original_exception)
            self.full_since = time.monotonic()

    def _room_again(self) -> bool:
        if self.path is None:
            return time.monotonic() - (self.full_since or 0) > RECHECK_S
        try:
            free = os.statvfs(self.path.parent)
            if free.f_bavail * free.f_frsize < MIN_FREE_BYTES:
                return False
            with self.engine.connect() as conn:
                pages = conn.execute(text("PRAGMA page_count")).scalar() or 0
                limit = conn.execute(text("PRAGMA max_page_count")).scalar() or 0
            return limit - pages >= MIN_FREE_PAGES
        except Exception:  # noqa: BLE001 (the probe itself failing means: not yet)
            return False

    def disk_full(self) -> bool:
        """Return True while the database is full; look again whether there is room."""
        if self.full_since is None:
            return False
        if self._room_again():
            log.warning("database has room again")
            self.full_since = None
            return False
        return True

    def state(self) -> tuple[str, str] | None:
        """Return (state, detail) for /healthz when something is wrong, else None."""
        problem = self.file_problem()
        if problem:
            return "file gone", f"the database file was {problem}; restart the station"
        if self.disk_full():
            return "disk full", "the database disk is full; changes cannot be saved"
        return None


def init_app(app: Flask) -> None:
    """Watch the app's database engine (after Flask-SQLAlchemy made it)."""
    with app.app_context():
        app.extensions["db_watch"] = DatabaseWatch(db.engine)
