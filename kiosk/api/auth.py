"""Bearer tokens for the integration API, read from the file named by `[api] tokens_file`.

One token per line; blank lines and `#` comments are ignored. The file is read
again whenever it changes, so tokens can be added or revoked without a restart.
"""

from __future__ import annotations

import hmac
import logging
import os
import threading

from kiosk.domain.messages import plural

log = logging.getLogger(__name__)

MIN_TOKEN_LENGTH = 16
_MISSING = (-1, -1)


class TokenFile:
    """Check presented tokens against the file's tokens, in constant time."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None  # (mtime, size) of what was read
        self._tokens: list[bytes] = []

    def _current(self) -> list[bytes]:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            with self._lock:
                if self._stamp != _MISSING:  # say it once, not on every request
                    log.warning("API tokens file %s cannot be read: %s", self.path,
                                exc.strerror)
                self._stamp, self._tokens = _MISSING, []
            return []
        stamp = (st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._tokens = self._read()
                self._stamp = stamp
            return self._tokens

    def _read(self) -> list[bytes]:
        try:
            with open(self.path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("API tokens file %s cannot be read: %s", self.path, exc)
            return []
        tokens = []
        for n, line in enumerate(lines, start=1):
            token = line.strip()
            if not token or token.startswith("#"):
                continue
            if len(token) < MIN_TOKEN_LENGTH:
                log.warning("API tokens file %s line %d: token shorter than %d characters "
                            "ignored", self.path, n, MIN_TOKEN_LENGTH)
                continue
            tokens.append(token.encode())
        log.info("API tokens file %s: %s", self.path,
                 plural(len(tokens), "%(num)d token", "%(num)d tokens"))
        return tokens

    def check(self, presented: str) -> bool:
        """Return True if presented is one of the file's tokens."""
        given = presented.encode("utf-8", "replace")
        ok = False
        for token in self._current():
            ok |= hmac.compare_digest(token, given)  # no early exit: timing says nothing
        return ok

    @property
    def configured(self) -> bool:
        return bool(self._current())


def bearer_token(header: str | None) -> str | None:
    """Return the token of an `Authorization: Bearer <token>` header, or None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None
