"""Pieces of app set-up that the factory calls: paths, logging, database, secrets, i18n."""

from __future__ import annotations

import logging
import os
import secrets
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from flask import Flask, current_app, has_app_context, request, session
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from kiosk.config import Settings, default_state_dir
from kiosk.extensions import babel, db
from kiosk.localtime import local_time

PACKAGE = Path(__file__).parent
MIGRATIONS = str(PACKAGE / "migrations")
LANGUAGES = ("nb", "nn", "en", "ar")
# libpq's TCP settings for a PostgreSQL station (kiosk.outage's watcher uses them too).
PG_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
                "keepalives_count": 2, "tcp_user_timeout": 10_000}


def static_folder() -> Path:
    """Return the static folder: inside the installed wheel, or the top-level one in a checkout."""
    shipped = PACKAGE / "static"
    return shipped if shipped.is_dir() else PACKAGE.parent / "static"


def station_config_folder() -> Path:
    """Return the folder with example.toml and demo.toml."""
    shipped = PACKAGE / "station_config"
    return shipped if shipped.is_dir() else PACKAGE.parent / "station_config"


class _StationFilter(logging.Filter):
    def __init__(self, station: str):
        super().__init__()
        self.station = station

    def filter(self, record: logging.LogRecord) -> bool:
        record.station = self.station
        return True


def configure_logging(settings: Settings) -> None:
    """Log one line per event to stderr, with level and station name (journald keeps it)."""
    root = logging.getLogger()
    if any(getattr(h, "_kiosk", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._kiosk = True  # type: ignore[attr-defined]
    handler.addFilter(_StationFilter(settings.station.name))
    from kiosk.systemd import OneLineFormatter, under_journald

    handler.setFormatter(OneLineFormatter(journal=under_journald(sys.stderr)))
    root.addHandler(handler)
    root.setLevel(settings.logging.level)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Turn on WAL, foreign keys and a busy timeout on every SQLite connection."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_begin_before_savepoint(conn, _name) -> None:
    """Open a real transaction before a SAVEPOINT on SQLite.

    Python's sqlite3 driver (legacy transaction mode) only begins a transaction
    before INSERT/UPDATE/DELETE; a SAVEPOINT issued first would start one of its
    own, and releasing it would commit everything so far on its own. Beginning
    here keeps `session.begin_nested()` inside the session's transaction.
    """
    dbapi_connection = conn.connection.dbapi_connection
    if isinstance(dbapi_connection, sqlite3.Connection) and not dbapi_connection.in_transaction:
        dbapi_connection.execute("BEGIN")


class StationJSONProvider(DefaultJSONProvider):
    """Flask's JSON with insertion order kept and over-deep nesting treated as bad JSON."""

    sort_keys = False

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError as exc:  # so request.get_json(silent=True) gives None, not a 500
            raise ValueError("JSON nested too deeply") from exc


def request_threads(settings: Settings) -> int:
    """Return how many threads serve requests: enough for the open event streams too."""
    return max(settings.server.threads, settings.server.max_streams + 4)


def configure_database(app: Flask) -> None:
    """Create the SQLite folder if needed and set engine options for the backend."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    if url.get_backend_name() != "sqlite":  # a server drops idle connections; a file does not
        options.setdefault("pool_pre_ping", True)
        # A server that went away with the line to it: give up in seconds, so the station
        # answers from its snapshot (kiosk.outage) instead of waiting on the kernel's timeout.
        # A line gone quiet under an open connection: TCP gives up within ~10 s, not minutes.
        connect = options.setdefault("connect_args", {})
        connect.setdefault("connect_timeout", 3)
        for key, value in PG_KEEPALIVE.items():
            connect.setdefault(key, value)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            # A connection to a file is cheap to keep: one per request thread (and the
            # scanner, ILS and job threads), so a busy minute does not open and close a
            # connection for each request beyond SQLAlchemy's default 5.
            options.setdefault("pool_size", request_threads(app.config["KIOSK_SETTINGS"]) + 4)
            try:
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # reported by /healthz and `kiosk init`, not a crash here
                logging.getLogger(__name__).error("cannot create the database folder: %s", exc)
        options.setdefault("connect_args", {"timeout": 10, "check_same_thread": False})


def load_secret_key(database_uri: str) -> str:
    """Return the station's secret key, creating it (mode 0600) beside the state on first use."""
    url = make_url(database_uri)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        folder = Path(url.database).parent
    else:
        folder = default_state_dir()
    path = folder / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        folder.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key


def configure_i18n(app: Flask, settings: Settings) -> None:
    """Set up Flask-Babel: ?lang= switches, the choice sticks in the session.

    Tests may add a language (KIOSK_LANGUAGES) with its own catalogue folder
    (BABEL_TRANSLATION_DIRECTORIES, folders separated by ";"): the pseudo-locale test.
    """
    default = settings.station.language
    languages = tuple(app.config.get("KIOSK_LANGUAGES") or LANGUAGES)

    def select_locale() -> str:
        wanted = request.args.get("lang")
        if wanted in languages:
            session["lang"] = wanted
            return wanted
        return session.get("lang") if session.get("lang") in languages else default

    app.config["BABEL_DEFAULT_LOCALE"] = default
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(PACKAGE / "translations"))
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals["LANGUAGES"] = languages
    app.jinja_env.filters["localtime"] = local_time  # stored UTC shown in the station's zone


def session_scope(app: Flask) -> Callable[[], AbstractContextManager[Session]]:
    """Return a factory of `with` blocks that give a database session outside requests.

    Inside a request of the same app, the request's session serves (no second context).
    """

    @contextmanager
    def scope() -> Iterator[Session]:
        if has_app_context() and current_app._get_current_object() is app:
            yield db.session  # removed at the end of the request, as usual
            return
        with app.app_context():
            try:
                yield db.session
            finally:
                db.session.remove()

    return scope
