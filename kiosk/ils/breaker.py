"""A circuit breaker for the ILS link: after a failure, calls answer at once for a while.

Closed: calls go out. After a failure the breaker is open for `first_s` seconds, doubling
with each failure in a row up to `longest_s`; while open, every call is refused at once
(the scan answers from local data). When the interval is over the breaker is half-open:
one call, the probe, goes out while every other is still refused; its success closes the
breaker, its failure opens it again for the next, longer interval.
"""

from __future__ import annotations

import threading
import time

from kiosk.ils.deadline import Clock

FIRST_S = 5.0
LONGEST_S = 60.0


class Breaker:
    """Count failures in a row and say whether a call may go out now."""

    def __init__(self, first_s: float = FIRST_S, longest_s: float = LONGEST_S,
                 clock: Clock = time.monotonic):
        self.first_s, self.longest_s = first_s, longest_s
        self._clock = clock
        self._lock = threading.Lock()
        self.failures = 0
        self.open_until = 0.0
        self._probing = False

    @property
    def state(self) -> str:
        """Return "closed", "open" or "half-open"."""
        if self.failures == 0:
            return "closed"
        return "open" if self._clock() < self.open_until or self._probing else "half-open"

    @property
    def tripped(self) -> bool:
        """Return True after a failure that no success has followed yet."""
        return self.failures > 0

    def retry_in(self) -> float:
        """Return the seconds until the next probe may go out (0 when it may now)."""
        return max(0.0, self.open_until - self._clock()) if self.failures else 0.0

    def admit(self, may_probe: bool = True) -> str:
        """Return "go" (closed), "probe" (this call is the half-open probe) or "refuse".

        A caller that may not probe is refused until some other call's probe succeeds.
        """
        with self._lock:
            if self.failures == 0:
                return "go"
            if not may_probe or self._clock() < self.open_until or self._probing:
                return "refuse"
            self._probing = True
            return "probe"

    def succeeded(self) -> None:
        """Close the breaker: the ILS answered."""
        with self._lock:
            self.failures, self.open_until, self._probing = 0, 0.0, False

    def failed(self) -> float:
        """Open the breaker for the next interval; return that interval in seconds."""
        with self._lock:
            delay = min(self.first_s * 2 ** min(self.failures, 16), self.longest_s)
            self.failures += 1
            self.open_until = self._clock() + delay
            self._probing = False
            return delay

    def release(self) -> None:
        """Give the probe's turn back without a verdict (it never reached the ILS)."""
        with self._lock:
            self._probing = False

    def reset_wait(self) -> None:
        """Let the next call probe at once (staff asked to try now, or a test)."""
        with self._lock:
            self.open_until = 0.0
