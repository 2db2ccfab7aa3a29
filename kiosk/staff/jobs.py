"""Periodic staff-side jobs beside the web server: for now, forgetting old patron data.

`start(app)` runs the jobs once soon after start-up and then every hour in one
daemon thread, and returns a function that stops it. Every error is logged and
the thread carries on; nothing here is raised into the web process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask

from kiosk.domain.clearance import anonymise_closed
from kiosk.domain.messages import plural
from kiosk.extensions import db

log = logging.getLogger(__name__)

INTERVAL_S = 3600.0
FIRST_RUN_S = 30.0


def run_once(app: Flask) -> int:
    """Anonymise the orders closed longer ago than configured; return how many."""
    days = app.config["KIOSK_SETTINGS"].pickup.anonymise_after_days
    with app.app_context():
        try:
            count = anonymise_closed(db.session, days)
            for forget in app.extensions.get("anonymise_hooks", []):  # e.g. the webhook outbox
                forget(db.session)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        finally:
            db.session.remove()
    if count:
        log.info("anonymised %s closed more than %s ago",
                 plural(count, "%(num)d order", "%(num)d orders"),
                 plural(days, "%(num)d day", "%(num)d days"))
    return count


def start(app: Flask, interval_s: float = INTERVAL_S,
          first_run_s: float = FIRST_RUN_S) -> Callable[[], None]:
    """Start the periodic jobs in a background thread; return a function that stops it."""
    stopping = threading.Event()

    def loop() -> None:
        wait = first_run_s
        while not stopping.wait(wait):
            try:
                run_once(app)
            except Exception:
                log.exception("the anonymise job failed; trying again in %.0f s", interval_s)
            wait = interval_s

    thread = threading.Thread(target=loop, name="kiosk-staff-jobs", daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(timeout=10)

    return stop
