"""Send the outbox: in order per order and receiver, retried with backoff for over 24 hours.

One event is claimed at a time with `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL;
SQLite serves one station and needs no lock): the row stays locked while it is
posted, so another station sharing the database skips it, and an event of the same
order after it is not eligible while it is pending. A station killed mid-delivery
drops its lock with its connection; the event is sent again later with the same
`webhook-id`. The clock and the HTTP call are injectable, so backoff is testable
without waiting.
"""

from __future__ import annotations

import datetime as dt
import http.client
import io
import logging
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased
from standardwebhooks.webhooks import Webhook

from kiosk.models import utcnow
from kiosk.webhooks.outbox import DELIVERED, FAILED, PENDING, Endpoint, WebhookDelivery

log = logging.getLogger(__name__)

# Waits after each failed attempt (as the Standard Webhooks guidance suggests): the last
# attempt comes 27 h 35 min after the first; then the event is given up as failed.
BACKOFF = (dt.timedelta(seconds=5), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
           dt.timedelta(hours=2), dt.timedelta(hours=5), dt.timedelta(hours=10),
           dt.timedelta(hours=10))
USER_AGENT = "kiosk-pickup-station-webhooks"


@dataclass(frozen=True)
class Answer:
    """What a receiver said: its HTTP status (None when none came) and any error text."""

    status: int | None
    error: str = ""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _DeadlineReader(socket.SocketIO):
    """Read a socket with each read's timeout cut to what is left of one deadline.

    A per-read timeout restarts with every byte, so a receiver sending one byte a second
    could hold an attempt for ever; this makes the whole answer share one deadline.
    """

    def __init__(self, sock: socket.socket, deadline: float):
        super().__init__(sock, "rb")
        self.deadline = deadline

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        self._sock.settimeout(left)
        return super().readinto(buffer)


class _DeadlineConnection(http.client.HTTPConnection):
    """An HTTP connection whose connect, send and every read share one deadline."""

    def __init__(self, host: str, port: int | None, deadline: float,
                 context: ssl.SSLContext | None = None):
        super().__init__(host, port, timeout=max(0.001, deadline - time.monotonic()))
        self.deadline, self.context = deadline, context

    def connect(self) -> None:
        self.timeout = self._left()
        super().connect()
        if self.context is not None:
            self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host)
        self.sock.settimeout(self._left())

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left

    def send(self, data: Any) -> None:
        if self.sock is None:
            self.connect()
        self.sock.settimeout(self._left())
        super().send(data)

    def response_class(self, sock: Any, *args: Any, **kwargs: Any) -> http.client.HTTPResponse:
        return http.client.HTTPResponse(_DeadlineSocket(sock, self.deadline), *args, **kwargs)


class _DeadlineSocket:
    """What HTTPResponse reads from: a file over the socket that keeps the deadline."""

    def __init__(self, sock: socket.socket, deadline: float):
        self.sock, self.deadline = sock, deadline

    def makefile(self, mode: str) -> io.BufferedReader:
        # As socket.makefile does: the file keeps the socket open after the connection
        # hands it over (http.client closes its own reference when the answer has no length).
        self.sock._io_refs += 1  # type: ignore[attr-defined]
        return io.BufferedReader(_DeadlineReader(self.sock, self.deadline))


def http_post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> Answer:
    """POST body to url within timeout_s in all (connect, send, answer); never raise."""
    deadline = time.monotonic() + timeout_s
    conn = None
    try:  # a url that cannot even be taken (ValueError) is an answer like any other failure
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) url: {url}")
        context = ssl.create_default_context() if parts.scheme == "https" else None
        conn = _DeadlineConnection(parts.hostname, parts.port, deadline, context)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        conn.request("POST", target, body=body,
                     headers={**headers, "Content-Type": "application/json",
                              "User-Agent": USER_AGENT})
        response = conn.getresponse()
        response.read(4096)
        if 200 <= response.status < 300:
            return Answer(response.status)
        return Answer(response.status, f"HTTP {response.status} {response.reason}"[:500])
    except TimeoutError as exc:
        return Answer(None, f"TimeoutError: no whole answer within {timeout_s:g} s "
                            f"({exc or 'timed out'})"[:500])
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500])
    finally:
        if conn is not None:
            conn.close()


def signed_headers(endpoint: Endpoint, msg_id: str, body: str, now: dt.datetime) -> dict[str, str]:
    """Return the Standard Webhooks headers for body, signed with the reference library."""
    signature = Webhook(endpoint.secret).sign(msg_id=msg_id, timestamp=now, data=body)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature}


def next_attempt(attempts: int, now: dt.datetime) -> dt.datetime | None:
    """Return when to try again after `attempts` failed attempts, or None to give up."""
    if attempts > len(BACKOFF):
        return None
    return now + BACKOFF[attempts - 1]


class Deliverer:
    """Deliver due outbox rows for the configured endpoints, one at a time."""

    def __init__(self, scope: Callable[[], Any], endpoints: Sequence[Endpoint],
                 clock: Callable[[], dt.datetime] = utcnow,
                 post: Callable[[str, bytes, dict[str, str], float], Answer] = http_post):
        self.scope = scope
        self.endpoints = {ep.url: ep for ep in endpoints}
        self.clock = clock
        self.post = post

    def _claim(self, session: Session, now: dt.datetime) -> WebhookDelivery | None:
        earlier = aliased(WebhookDelivery)
        blocked = exists().where(and_(
            earlier.endpoint == WebhookDelivery.endpoint,
            earlier.order_id == WebhookDelivery.order_id,
            earlier.state == PENDING, earlier.id < WebhookDelivery.id))
        return session.scalar(
            select(WebhookDelivery)
            .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_attempt_at <= now,
                   WebhookDelivery.endpoint.in_(list(self.endpoints)), ~blocked)
            .order_by(WebhookDelivery.id).limit(1)
            .with_for_update(skip_locked=True, of=WebhookDelivery))

    def deliver_one(self) -> bool:
        """Claim one due event, post it and record the answer; False when none was due."""
        with self.scope() as session:
            try:
                row = self._claim(session, self.clock())
                if row is None:
                    session.rollback()
                    return False
                endpoint = self.endpoints[row.endpoint]
                now = self.clock()
                headers = signed_headers(endpoint, row.msg_id, row.payload, now)
                answer = self.post(endpoint.url, row.payload.encode(), headers,
                                   endpoint.timeout_s)
                self._record(row, answer, self.clock())
                session.commit()
            except Exception:
                session.rollback()
                raise
        return True

    def _record(self, row: WebhookDelivery, answer: Answer, now: dt.datetime) -> None:
        row.attempts += 1
        row.last_attempt_at = now
        row.last_status = answer.status
        if answer.delivered:
            row.state, row.delivered_at, row.last_error = DELIVERED, now, None
            log.info("webhook %s %s delivered to %s (HTTP %s)", row.msg_id, row.event_type,
                     row.endpoint, answer.status)
            return
        row.last_error = answer.error or f"HTTP {answer.status}"
        again = next_attempt(row.attempts, now)
        if again is None:
            row.state = FAILED
            log.error("webhook %s %s to %s given up after %d attempts: %s", row.msg_id,
                      row.event_type, row.endpoint, row.attempts, row.last_error)
        else:
            row.next_attempt_at = again
            log.warning("webhook %s %s to %s failed (%s); next attempt at %s", row.msg_id,
                        row.event_type, row.endpoint, row.last_error,
                        again.isoformat(timespec="seconds"))

    def deliver_due(self, limit: int = 1000, stop: Callable[[], bool] | None = None) -> int:
        """Deliver (or try) every due event, at most limit; return how many were tried.

        stop, asked before each event, ends the round early (the station shutting down).
        """
        tried = 0
        while tried < limit and not (stop and stop()) and self.deliver_one():
            tried += 1
        return tried


def retry(session: Session, delivery_id: int, now: dt.datetime | None = None) -> bool:
    """Queue a failed or waiting event to be sent at once, with a fresh set of attempts."""
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.state == DELIVERED:
        return False
    row.state, row.attempts, row.next_attempt_at = PENDING, 0, now or utcnow()
    return True
