"""A branch keeps serving its patrons while the central PostgreSQL database is away.

- `snapshot`: the branch's local, read-only copy of what a scan needs (SQLite file).
- `journal`: "I have collected it" pressed meanwhile, kept durably until replayed.
- `replay`: the journal applied exactly once through `Station.collect` when it is back.
- `runtime`: the watcher thread (LISTEN/NOTIFY and polling; away and back).
- `notify`: every change of an order NOTIFYs the stations.
- `views`: the staff pages' 503, and the snapshot's gauges on /metrics.

Only a station on PostgreSQL has any of it; an SQLite station has nothing to lose.
The core knows this package only as `Station.offline` and `app.extensions["outage"]`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from sqlalchemy.engine import make_url

from kiosk.config import default_state_dir

log = logging.getLogger(__name__)

SNAPSHOT_FILE = "snapshot.db"


def snapshot_path(settings) -> Path:  # noqa: ANN001 (kiosk.config.Settings)
    """Return where the snapshot lives: `[database] snapshot`, else the state directory."""
    configured = settings.database.get("snapshot", "")
    return Path(configured) if configured else default_state_dir() / SNAPSHOT_FILE


def journal_path(snapshot: Path) -> Path:
    """Return the journal's file, beside the snapshot."""
    return snapshot.with_name(f"{snapshot.stem}-collects.db")


def init_app(app: Flask) -> None:
    """On a PostgreSQL station: load the snapshot, hook into the core (the journal opens
    at first use)."""
    settings = app.config["KIOSK_SETTINGS"]
    if make_url(app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() != "postgresql":
        return
    station = app.extensions.get("station")
    if station is None:
        return
    from kiosk.outage import notify, views
    from kiosk.outage.state import Outage

    path = snapshot_path(settings)
    outage = Outage(station, path, journal_path(path))
    app.extensions["outage"] = outage
    station.offline = outage
    notify.install()
    views.init_app(app, outage)
    if outage.data is not None:
        log.info("snapshot of branch %s loaded from %s (%d open orders)", station.branch,
                 path, outage.data.orders)
