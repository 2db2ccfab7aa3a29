"""Deadlines for calls out: one point in time by which a whole exchange must be over.

A timeout restarts with every read, so a neighbour that trickles one byte at a time can
hold a caller for ever; a deadline is set once (before the wait for a lock, the connect,
the TLS handshake, the login and every read) and each step gets only what is left of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


class DeadlinePassed(TimeoutError):
    """The time given to an exchange is used up."""


class Deadline:
    """A point in time on a monotonic clock (injectable for tests) by which work must end."""

    def __init__(self, seconds: float, clock: Clock = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self.at = clock() + seconds

    def remaining(self) -> float:
        """Return the seconds left, never below zero."""
        return max(0.0, self.at - self._clock())

    @property
    def expired(self) -> bool:
        """Return True once the deadline has passed."""
        return self._clock() >= self.at

    def left(self) -> float:
        """Return the seconds left for the next blocking step; raise DeadlinePassed if none."""
        remaining = self.at - self._clock()
        if remaining <= 0:
            # Never hand 0 on: socket.settimeout(0) would mean "non-blocking", not "now".
            raise DeadlinePassed(f"no time left of {self.seconds:g} s")
        return remaining
