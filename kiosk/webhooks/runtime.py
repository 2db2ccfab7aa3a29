"""Deliver webhooks in a background thread while the station serves (`kiosk serve`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kiosk.domain.messages import plural
from kiosk.webhooks.delivery import Deliverer

log = logging.getLogger(__name__)

POLL_S = 1.0  # how soon a new event leaves


def deliverer(app: Any) -> Deliverer:
    """Return a Deliverer for the app's receivers."""
    from kiosk.appsetup import session_scope

    return Deliverer(session_scope(app), app.extensions["webhooks"].endpoints)


def start(app: Any) -> Callable[[], None]:
    """Start the delivery thread if any receiver is configured; return its stopper."""
    hooks = app.extensions.get("webhooks")
    if hooks is None or not hooks.endpoints:
        return lambda: None
    worker = deliverer(app)
    stop = threading.Event()
    poll = float(app.config.get("KIOSK_WEBHOOK_POLL_S", POLL_S))

    def run() -> None:
        while not stop.is_set():
            try:
                worker.deliver_due()
            except Exception:  # the database away, say: log, wait, go on
                log.exception("delivering webhooks failed")
            stop.wait(poll)

    thread = threading.Thread(target=run, name="webhooks", daemon=True)
    thread.start()
    log.info("delivering webhooks to %s",
             plural(len(hooks.endpoints), "%(num)d receiver", "%(num)d receivers"))

    def stopper() -> None:
        stop.set()
        thread.join(timeout=max(ep.timeout_s for ep in hooks.endpoints) + 5)

    return stopper
