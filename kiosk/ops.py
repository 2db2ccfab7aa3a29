"""Operations on a running station: a consistent backup of its database.

SQLite: the online backup API copies a consistent snapshot while the station
keeps working, the copy is checked with `PRAGMA integrity_check` and only then
moved into place. PostgreSQL: `pg_dump` writes a custom-format archive, which
`pg_restore --list` must then read back.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """A backup that could not be made or did not check out; the message says why."""


@dataclass(frozen=True)
class BackupResult:
    """What was written: the file, its size, the engine, and what the check found."""

    path: Path
    size: int
    engine: str
    check: str
    orders: int | None = None


def backup(database_url: str, out: str | os.PathLike, overwrite: bool = False) -> BackupResult:
    """Write a consistent, checked copy of the station's database to out.

    An existing out is refused unless overwrite (a backup must not silently replace
    another one, or any other file); with overwrite it is replaced only once the new
    copy has checked out.
    """
    out = Path(out)
    if not out.parent.is_dir():
        raise BackupError(f"folder {out.parent} does not exist")
    if out.is_dir():
        raise BackupError(f"{out} is a folder; give a file name")
    if out.exists() and not overwrite:
        raise BackupError(f"{out} exists already; give another name or --force to "
                          "overwrite it")
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return backup_sqlite(url.database or "", out)
    if backend == "postgresql":
        return backup_postgres(database_url, out)
    raise BackupError(f"backup supports SQLite and PostgreSQL, not {backend}")


def _temp_beside(out: Path) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    os.close(fd)
    return Path(name)


def backup_sqlite(db_path: str, out: Path) -> BackupResult:
    """Copy a SQLite database with the online backup API, check the copy, move it to out."""
    if not db_path or db_path == ":memory:" or not Path(db_path).is_file():
        raise BackupError(f"no SQLite database at {db_path or '(none)'}")
    if Path(db_path).resolve() == out.resolve():
        raise BackupError("the backup cannot overwrite the database itself")
    part = _temp_beside(out)
    try:
        # mode=rw: never create an empty database where the real one should be.
        source = sqlite3.connect(f"file:{db_path}?mode=rw", uri=True, timeout=30)
        target = sqlite3.connect(part)
        try:
            source.execute("PRAGMA busy_timeout=30000")
            source.backup(target)  # one step: a single consistent snapshot
            # A copy of a WAL database is in WAL mode too; make it one self-contained file.
            target.execute("PRAGMA journal_mode=DELETE")
            check = target.execute("PRAGMA integrity_check").fetchall()
            orders = _count_orders(target)
        finally:
            target.close()
            source.close()
        if check != [("ok",)]:
            raise BackupError("the copy failed its integrity check: "
                              + "; ".join(str(row[0]) for row in check[:5]))
        with open(part, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(part, out)
    except sqlite3.Error as exc:
        raise BackupError(f"SQLite: {exc}") from exc
    finally:
        part.unlink(missing_ok=True)
    return BackupResult(out, out.stat().st_size, "sqlite", "integrity_check ok", orders)


def _count_orders(conn: sqlite3.Connection) -> int | None:
    try:
        return conn.execute("SELECT count(*) FROM orders").fetchone()[0]
    except sqlite3.Error:
        return None  # a database not yet initialised has no orders table


def backup_postgres(database_url: str, out: Path) -> BackupResult:
    """Dump a PostgreSQL database with pg_dump (custom format), then read it back."""
    pg_dump, pg_restore = shutil.which("pg_dump"), shutil.which("pg_restore")
    if not pg_dump or not pg_restore:
        raise BackupError("pg_dump/pg_restore not found: install the PostgreSQL client "
                          "(apt-get install postgresql-client), the same major version "
                          "as the server or newer")
    url = make_url(database_url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)  # not on the command line, where ps shows it
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(
        hide_password=False)
    part = _temp_beside(out)
    try:
        done = subprocess.run([pg_dump, "--format=custom", "--no-owner", f"--file={part}",
                               f"--dbname={conninfo}"], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        listing = subprocess.run([pg_restore, "--list", str(part)], capture_output=True,
                                 text=True)
        if listing.returncode != 0:
            raise BackupError(f"the dump does not read back: {listing.stderr.strip()}")
        if "TABLE DATA public orders" not in listing.stdout:
            raise BackupError("the dump holds no orders table: not a station database?")
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    return BackupResult(out, out.stat().st_size, "postgresql", "pg_restore --list ok")
