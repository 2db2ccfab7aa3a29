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
import logging
import urllib.error
import urllib.request
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


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer that is not 2xx: tried again later


_opener = urllib.request.build_opener(_NoRedirect)


def http_post(url: str, body: bytes, headers: dict[str, str], timeout_s: float) -> Answer:
    """POST body to url; return the receiver's answer, never raise."""
    try:  # a url urllib cannot even take (ValueError) is an answer like any other failure
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={**headers, "Content-Type": "application/json",
                                                  "User-Agent": USER_AGENT})
        with _opener.open(request, timeout=timeout_s) as response:
            response.read(4096)
            return Answer(response.status)
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, f"HTTP {exc.code} {exc.reason}"[:500])
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Answer(None, f"{type(exc).__name__}: {reason}"[:500])


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

    def deliver_due(self, limit: int = 1000) -> int:
        """Deliver (or try) every due event, at most limit; return how many were tried."""
        tried = 0
        while tried < limit and self.deliver_one():
            tried += 1
        return tried


def retry(session: Session, delivery_id: int, now: dt.datetime | None = None) -> bool:
    """Queue a failed or waiting event to be sent at once, with a fresh set of attempts."""
    row = session.get(WebhookDelivery, delivery_id)
    if row is None or row.state == DELIVERED:
        return False
    row.state, row.attempts, row.next_attempt_at = PENDING, 0, now or utcnow()
    return True
