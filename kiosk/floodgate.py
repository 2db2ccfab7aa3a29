"""A WSGI gate in front of Flask: login posts past their limits are refused before Flask runs.

A flood of logins must not delay a scan. Refusing such a post inside Flask costs the
session cookie, the CSRF check and an error page (a few milliseconds each, and all
request threads queued behind them); refusing it here costs two counter updates. The
limits are `limits`' fixed windows (the engine of Flask-Limiter), per client address and
in total, shared by every login endpoint (`LOGIN_PATHS`). Sits inside werkzeug's ProxyFix
when one proxy hop is trusted, so it counts the real client.

Behind it, `HashSlots` bounds the password hashes computed at once (each argon2 hash takes
64 MiB and a core): one more is refused at once, never queued.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.wrappers import Response

LOGIN_PATHS = frozenset({"/staff/login", "/staff/card-login", "/kiosk/staff-login",
                         "/kiosk/pin"})
JSON_PATHS = frozenset({"/staff/card-login", "/kiosk/staff-login", "/kiosk/pin"})


class LoginFloodGate:
    """Refuse login posts over the per-address or total limit with 429 and Retry-After."""

    def __init__(self, app: Callable, per_address: str, total: str,
                 page: Callable[[], bytes], headers: dict[str, str]):
        self.app = app
        self.limiter = FixedWindowRateLimiter(MemoryStorage())
        self.per_address = parse_many(per_address)
        self.total = parse_many(total)
        self.page = page  # the refusal page for people (made once, in the station's language)
        self.headers = headers

    def _refused(self, address: str) -> float | None:
        """Count the post; return the seconds to wait when a limit refuses it, else None."""
        kept = [(limit, key) for limits, key in ((self.per_address, address),
                                                 (self.total, "all")) for limit in limits]
        for limit, key in kept:
            if not self.limiter.hit(limit, "login", key):
                # The wait is the longest of the limits used up, not the first one's: a
                # client told to come back after a minute would be refused again for the hour.
                now = time.time()
                return max([self.limiter.get_window_stats(used, "login", k).reset_time - now
                            for used, k in kept if not self.limiter.test(used, "login", k)]
                           + [1.0])
        return None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")  # absent when empty (PEP 3333): no login path either
        if environ.get("REQUEST_METHOD") != "POST" or path not in LOGIN_PATHS:
            return self.app(environ, start_response)
        wait = self._refused(environ.get("REMOTE_ADDR") or "unknown")
        if wait is None:
            return self.app(environ, start_response)
        if path in JSON_PATHS:
            body = json.dumps({"error": "too many requests",
                               "detail": "too many login attempts; wait and try again"})
            kind = "application/json"
        else:
            body, kind = self.page(), "text/html; charset=utf-8"
        # werkzeug's plain Response (no Flask): status line and Content-Length done for us
        refusal = Response(body, status=429, content_type=kind, headers={
            **self.headers, "Retry-After": str(int(wait + 0.999)), "Cache-Control": "no-store"})
        return refusal(environ, start_response)


class HashesBusy(Exception):
    """Every password-hash slot is taken; the caller answers 429 at once."""


class HashSlots:
    """At most `slots` password hashes at once; one more is refused at once, never queued."""

    def __init__(self, slots: int):
        self._free = threading.BoundedSemaphore(slots)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold one slot for the block; raise HashesBusy when none is free."""
        if not self._free.acquire(blocking=False):
            raise HashesBusy
        try:
            yield
        finally:
            self._free.release()
