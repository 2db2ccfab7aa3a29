"""Create or upgrade the database schema (Alembic migrations) and the configured shelves."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from kiosk.domain.shelving import sync_shelves
from kiosk.extensions import db

log = logging.getLogger(__name__)


def schema_revision(app: Flask) -> str | None:
    """Return the database's Alembic revision, or None when it has no schema yet."""
    with app.app_context(), db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def sqlite_files(app: Flask) -> list[Path]:
    """Return the SQLite database file and its -wal and -shm companions that exist."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return []
    base = Path(url.database)
    return [p for p in (base, Path(f"{base}-wal"), Path(f"{base}-shm")) if p.exists()]


def restrict_sqlite_files(app: Flask) -> None:
    """Take group write and every other-user bit off the SQLite files (at most 0640).

    The database holds patrons' card numbers: a file made by a shell with umask 022
    (0644) would be readable by every local user.
    """
    for path in sqlite_files(app):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o037:
            os.chmod(path, mode & 0o640)


def upgrade_database(app: Flask) -> list[str]:
    """Run every pending migration, then bring shelves in line; return what changed.

    The first line says what happened to the schema when anything did: "Database
    created at revision R" or "Database upgraded from R1 to R2".
    """
    logging.getLogger("alembic").setLevel(logging.WARNING)
    before = schema_revision(app)
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        settings = app.config["KIOSK_SETTINGS"]
        changes = sync_shelves(db.session, settings.shelves, settings.station.branch)
        db.session.commit()
    after = schema_revision(app)
    if before is None:
        changes.insert(0, f"Database created at revision {after}")
    elif before != after:
        changes.insert(0, f"Database upgraded from revision {before} to {after}")
    restrict_sqlite_files(app)
    for change in changes:
        log.info("%s", change)
    return changes
