"""Deliver webhooks in the background while the station serves (`kiosk serve`).

Each receiver has its own thread: a receiver that is slow, trickles its answer or is
down holds up only its own events, never another receiver's. Every attempt has one
deadline (`timeout_s`: connect, send and the whole answer), so a thread is never held
longer than that per event.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kiosk.domain.messages import plural
from kiosk.webhooks.delivery import Deliverer
from kiosk.webhooks.outbox import Endpoint

log = logging.getLogger(__name__)

POLL_S = 1.0  # how soon a new event leaves


def deliverer(app: Any, endpoints: list[Endpoint] | None = None) -> Deliverer:
    """Return a Deliverer for the given receivers (default: all of the app's)."""
    from kiosk.appsetup import session_scope

    chosen = app.extensions["webhooks"].endpoints if endpoints is None else endpoints
    return Deliverer(session_scope(app), chosen)


def start(app: Any) -> Callable[[], None]:
    """Start one delivery thread per configured receiver; return their stopper."""
    hooks = app.extensions.get("webhooks")
    if hooks is None or not hooks.endpoints:
        return lambda: None
    stop = threading.Event()
    poll = float(app.config.get("KIOSK_WEBHOOK_POLL_S", POLL_S))

    def run(worker: Deliverer, name: str) -> None:
        while not stop.is_set():
            try:
                worker.deliver_due(stop=stop.is_set)
            except Exception:  # the database away, say: log, wait, go on
                log.exception("delivering webhooks to receiver %s failed", name)
            stop.wait(poll)

    threads = []
    for n, endpoint in enumerate(hooks.endpoints, start=1):
        thread = threading.Thread(target=run, args=(deliverer(app, [endpoint]), str(n)),
                                  name=f"webhooks-{n}", daemon=True)
        thread.start()
        threads.append(thread)
    log.info("delivering webhooks to %s, each in its own thread",
             plural(len(hooks.endpoints), "%(num)d receiver", "%(num)d receivers"))

    def stopper() -> None:
        stop.set()
        for thread in threads:  # they stop together; each within one attempt's deadline
            thread.join(timeout=max(ep.timeout_s for ep in hooks.endpoints) + 5)

    return stopper
