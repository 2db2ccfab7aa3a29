"""Keep the offers fresh: one thread fetches each feed (and the configured offers'
pictures) when due, so no request waits."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from flask import Flask

from kiosk.domain.messages import plural
from kiosk.offers.board import OfferBoard

log = logging.getLogger(__name__)

IDLE_WAIT_S = 60.0  # the longest the thread sleeps before looking again


def run(board: OfferBoard, stop: threading.Event) -> None:
    """Refresh the board's feeds as they fall due until stop is set."""
    while not stop.is_set():
        try:
            board.refresh(only_due=True)
        except Exception:  # the screen keeps its last good set; the thread carries on
            log.exception("refreshing offers failed")
        wait = board.seconds_to_next()
        stop.wait(min(wait if wait is not None else IDLE_WAIT_S, IDLE_WAIT_S) + 0.05)


def start(app: Flask) -> Callable[[], None]:
    """Start refreshing the app's offer feeds in a thread; return a function that stops it."""
    board: OfferBoard | None = app.extensions.get("offers")
    if board is None or not (board.feeds or board.pictures):
        return lambda: None
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(board, stop), name="offers-refresh",
                              daemon=True)
    thread.start()
    log.info("refreshing %s in the background",
             plural(len(board.feeds), "%(num)d offer feed", "%(num)d offer feeds"))

    def stopper() -> None:
        stop.set()
        thread.join(timeout=15)

    return stopper
