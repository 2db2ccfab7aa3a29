"""The ILS link's background work while the station serves: keepalive, queue replay, and
(with holds in the ILS) reconciliation of the shelves every `[ils] reconcile_minutes`.

While it runs, the keepalive thread is the link's only half-open probe after a failure
(kiosk.ils.breaker): scans answer from local data until the probe has found the ILS back,
rather than one unlucky scan waiting out `[ils] timeout_s` for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kiosk.ils import attach, queue, reconcile

log = logging.getLogger(__name__)

TICK_S = 2.0
KEEPALIVE_S = 30.0
FIRST_RECONCILE_S = 60.0


def tick(session_scope: Callable[[], Any], link: Any, last_keepalive: float) -> float:
    """Do one round: keepalive when due, replay queued jobs when the link answers."""
    now = time.monotonic()
    with session_scope() as session:
        waiting = bool(queue.pending(session, limit=1))
    if waiting or not link.up or now - last_keepalive >= KEEPALIVE_S:
        if not link.ensure(background=True):
            return last_keepalive
        last_keepalive = now
    if waiting:
        with session_scope() as session:
            queue.replay(session, link)
    return last_keepalive


def reconcile_every(session_scope: Callable[[], Any], station: Any, link: Any,
                    interval_s: float, stop: threading.Event) -> None:
    """Reconcile the shelves with the ILS every interval_s seconds until stop is set."""
    locations = list(station.settings.ils.pickup_locations) or [station.branch]
    wait = min(interval_s, FIRST_RECONCILE_S)  # soon after a start: the report lives in memory
    while not stop.wait(wait):
        wait = interval_s
        try:
            with session_scope() as session:
                reconcile.run(session, link, station.holds, station.branch, locations,
                              trigger="periodic")
        except Exception:  # keep the thread alive whatever one round does
            log.exception("reconciliation with the ILS failed")


def start(app: Any) -> Callable[[], None]:
    """Start the keepalive and replay thread if an ILS is configured; return its stopper."""
    from kiosk.appsetup import session_scope

    station = app.extensions["station"]
    link = attach(station)
    if link is None:
        return lambda: None
    scope = session_scope(app)
    stop = threading.Event()
    interval = float(app.config.get("KIOSK_ILS_TICK_S", TICK_S))

    link.background_prober = True  # from now on only this thread probes a tripped link

    def run() -> None:
        last = 0.0
        while not stop.is_set():
            try:
                last = tick(scope, link, last)
            except Exception:  # keep the thread alive whatever one round does
                log.exception("ILS background round failed")
            stop.wait(interval)

    threads = [threading.Thread(target=run, name="ils-link", daemon=True)]
    minutes = station.settings.ils.reconcile_minutes
    if getattr(station, "holds", None) is not None and minutes > 0:
        every = float(app.config.get("KIOSK_ILS_RECONCILE_S", minutes * 60))
        threads.append(threading.Thread(target=reconcile_every, name="ils-reconcile",
                                        args=(scope, station, link, every, stop), daemon=True))
    for thread in threads:
        thread.start()

    def stopper() -> None:
        stop.set()
        link.background_prober = False
        for thread in threads:
            thread.join(timeout=10)
        link.close()

    return stopper
