"""Write this station's heartbeat every 30 s while it serves (`kiosk serve`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

HEARTBEAT_S = 30.0


def beat_now(app: Any) -> None:
    """Write the app's station heartbeat once."""
    from kiosk.appsetup import session_scope
    from kiosk.fleet.heartbeat import beat, describe

    fleet = app.extensions["fleet"]
    with session_scope(app)() as session:
        try:
            beat(session, describe(app.extensions["station"], fleet.last_scan_at,
                                   fleet.started_at), fleet.clock())
        except Exception:
            session.rollback()
            raise


def start(app: Any) -> Callable[[], None]:
    """Start the heartbeat thread; return its stopper."""
    if "fleet" not in app.extensions:
        return lambda: None
    every = float(app.config.get("FLEET_HEARTBEAT_S", HEARTBEAT_S))
    stop = threading.Event()

    def run() -> None:
        while True:
            try:
                beat_now(app)
            except Exception:  # the database away: the next beat tries again
                log.exception("writing the station's heartbeat failed")
            if stop.wait(every):
                return

    thread = threading.Thread(target=run, name="fleet-heartbeat", daemon=True)
    thread.start()

    def stopper() -> None:
        stop.set()
        thread.join(timeout=10)

    return stopper
