"""An in-process event bus: one queue per subscriber, so a slow screen never blocks a scan."""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)

SCAN_RESULT = "scan"
DEVICE_STATE = "device"


_CLOSE = object()  # put in a subscriber's queue to end its stream


class TooManySubscribers(Exception):
    """Raised when the configured number of open streams is reached."""


class EventBus:
    """Publish events to every subscriber's bounded queue; drop for the slow ones."""

    def __init__(self, max_subscribers: int = 8, queue_size: int = 100):
        self._subs: dict[queue.Queue, str | None] = {}  # each queue with its screen's secret
        self._lock = threading.Lock()
        self._max = max_subscribers
        self._size = queue_size

    def next_id(self) -> str:
        """Return a new event id: random, so no client can guess another screen's events."""
        return secrets.token_urlsafe(12)

    def screens(self) -> set[str]:
        """Return the secrets of the screens listening now (the ones an event is shown on)."""
        with self._lock:
            return {screen for screen in self._subs.values() if screen}

    def publish(self, kind: str, data: dict[str, Any], event_id: str | None = None) -> str:
        """Send an event to every subscriber; return its id."""
        event_id = event_id if event_id is not None else self.next_id()
        message = (event_id, kind, data)
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            try:
                q.put_nowait(message)
            except queue.Full:
                log.warning("event subscriber is not keeping up; event %s dropped", event_id)
        return event_id

    def subscribe(self, screen: str | None = None) -> queue.Queue:
        """Return a new subscriber queue (of the screen with this secret, if any).

        Raise TooManySubscribers past the limit.
        """
        q: queue.Queue = queue.Queue(maxsize=self._size)
        with self._lock:
            if len(self._subs) >= self._max:
                raise TooManySubscribers(f"{self._max} streams open already")
            self._subs[q] = screen
        return q

    def close(self) -> None:
        """End every open stream (the server is stopping); new subscribers still work."""
        with self._lock:
            subs = list(self._subs)
        for q in subs:
            try:
                q.put_nowait(_CLOSE)
            except queue.Full:  # a stalled stream still ends at its deadline
                pass

    def unsubscribe(self, q: queue.Queue) -> None:
        with self._lock:
            self._subs.pop(q, None)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def stream(self, q: queue.Queue, keepalive_s: float = 15.0,
               max_seconds: float = 300.0) -> Iterator[str]:
        """Yield server-sent-event text from q until max_seconds, with keep-alives.

        The stream ends on its own after max_seconds (EventSource reconnects), so
        a client that vanished without a TCP reset frees its thread in time.
        """
        import time

        deadline = time.monotonic() + max_seconds
        try:
            yield "retry: 2000\n: connected\n\n"
            while (left := deadline - time.monotonic()) > 0:
                try:
                    message = q.get(timeout=min(keepalive_s, left))
                except queue.Empty:
                    yield ": keep-alive\n\n"
                    continue
                if message is _CLOSE:
                    return
                event_id, kind, data = message
                yield f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"
        finally:
            self.unsubscribe(q)
