"""Failed logins counted per account and address, the way OWASP's authentication guidance asks.

Two counters decide whether a login is even tried:

- per account *and* client address: `attempts` failures within `minutes` refuse further
  tries of that name from that address until the oldest failure is `minutes` old. Someone
  guessing from one address cannot lock the owner out at another.
- per account, from everywhere: `attempts * account_factor` failures within `minutes`, the
  slower limit against guessing spread over many addresses.

Names are counted whether or not an account of that name exists, so an unknown name is
refused exactly like a known one. The counters live in the station's memory, bounded by
`max_keys` (the oldest go first), and are keyed with the account's session generation:
raising it (unlock, new password) starts the account afresh, also from another process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class LockoutPolicy:
    """Failures allowed per account and address within `minutes`; the per-account factor."""

    attempts: int = 5
    minutes: int = 15
    account_factor: int = 10

    @property
    def window_s(self) -> float:
        return self.minutes * 60.0


class _Failures:
    """Failure times per key within a window, bounded in the number of keys kept."""

    def __init__(self, window_s: float, limit: int, max_keys: int):
        self.window_s, self.limit, self.max_keys = window_s, limit, max_keys
        self._keys: OrderedDict[str, deque[float]] = OrderedDict()

    def _fresh(self, key: str, now: float) -> deque[float] | None:
        times = self._keys.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._keys[key]
            return None
        return times

    def retry_after(self, key: str, now: float) -> float | None:
        """Return seconds until key may try again, or None when it may now."""
        times = self._fresh(key, now)
        if times is None or len(times) < self.limit:
            return None
        return max(times[-self.limit] + self.window_s - now, 1.0)

    def add(self, key: str, now: float) -> None:
        times = self._fresh(key, now)
        if times is None:
            times = self._keys[key] = deque(maxlen=self.limit)
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        times.append(now)

    def clear(self, key: str) -> None:
        self._keys.pop(key, None)


class LoginThrottle:
    """Decide before any password is checked whether this name may be tried from here."""

    def __init__(self, policy: LockoutPolicy, max_keys: int = 20_000,
                 clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._pair = _Failures(policy.window_s, policy.attempts, max_keys)
        self._account = _Failures(policy.window_s, policy.attempts * policy.account_factor,
                                  max_keys)

    @staticmethod
    def account_key(name: str, generation: int = 0) -> str:
        """Return the counter key of an account name (case and spaces do not matter)."""
        return f"{name.strip().casefold()}#{generation}"

    def refused(self, account: str, address: str) -> float | None:
        """Return seconds to wait when this account may not be tried from address now."""
        now = self._clock()
        with self._lock:
            waits = [w for w in (self._pair.retry_after(f"{account}@{address}", now),
                                 self._account.retry_after(account, now)) if w is not None]
        return max(waits) if waits else None

    def failed(self, account: str, address: str) -> None:
        """Count a failed login of account from address."""
        now = self._clock()
        with self._lock:
            self._pair.add(f"{account}@{address}", now)
            self._account.add(account, now)

    def succeeded(self, account: str, address: str) -> None:
        """Forget the failures of account from address (the owner got in from there)."""
        with self._lock:
            self._pair.clear(f"{account}@{address}")

    def locked(self, account: str) -> bool:
        """Return True while account is refused from every address (the per-account limit)."""
        with self._lock:
            return self._account.retry_after(account, self._clock()) is not None
