"""Signed webhooks (Standard Webhooks) telling order systems of each order's progress.

`[[webhooks]]` entries name a receiver, its secret and the events it wants. An event
is written to the outbox (`kiosk.webhooks.outbox`) in the transaction of the change
itself, through `kiosk.domain.order_events`; `kiosk.webhooks.runtime` sends it from a
background thread (`kiosk.webhooks.delivery`), so no scan or staff action waits on a
receiver. `/staff/webhooks` (admins) shows deliveries and failures, and retries.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from kiosk import clock
from kiosk.domain import order_events
from kiosk.webhooks.outbox import (
    EVENT_TYPES,
    FAILED,
    PENDING,
    Endpoint,
    WebhookDelivery,
    forget_patrons,
    write,
)

log = logging.getLogger(__name__)


@dataclass
class Webhooks:
    """The app's receivers."""

    endpoints: list[Endpoint] = field(default_factory=list)


def read_secret(path: str) -> str:
    """Return the secret in path's first line; raise ValueError if it is not a usable one."""
    try:
        with open(path, encoding="utf-8") as fh:
            secret = fh.readline().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {getattr(exc, 'strerror', exc)}") from None
    try:
        Webhook(secret)
    except Exception:
        raise ValueError(f"{path} does not hold a Standard Webhooks secret "
                         "(whsec_ followed by base64)") from None
    return secret


def endpoints_from(entries: list[dict[str, Any]]) -> list[Endpoint]:
    """Return the endpoints of the `[[webhooks]]` entries (checked by kiosk.config)."""
    out = []
    for entry in entries:
        try:
            secret = read_secret(entry["secret_file"])
        except ValueError as exc:  # check-config reports it; the station serves on
            log.error("webhook %s left out: %s", entry["url"], exc)
            continue
        out.append(Endpoint(url=entry["url"], secret=secret,
                            events=frozenset(entry["events"] or EVENT_TYPES),
                            timeout_s=float(entry["timeout_s"]),
                            include_patron=entry["include_patron"]))
    return out


def _epoch(value: Any) -> float:
    """Return a database timestamp as Unix time (SQLite gives naive UTC)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()


def receiver_label(endpoints: list[Endpoint], url: str) -> str:
    """Return a receiver's name in metrics: its place in `[[webhooks]]`, never its url.

    A url may carry a secret (a token in its path or query); "other" stands for the
    receivers this station no longer has (or another station's, on a shared database).
    """
    for n, endpoint in enumerate(endpoints, start=1):
        if endpoint.url == url:
            return str(n)
    return "other"


def backlog_metrics(session: Any, endpoints: list[Endpoint] | None = None) -> Iterator[Any]:
    """Yield the outbox's backlog per receiver (labelled by number), for /metrics."""
    backlog = GaugeMetricFamily("kiosk_webhook_backlog", "Webhook events not yet delivered.",
                                labels=["webhook"])
    oldest = GaugeMetricFamily("kiosk_webhook_oldest_age_seconds",
                               "Age of the oldest webhook event not yet delivered.",
                               labels=["webhook"])
    failed = GaugeMetricFamily("kiosk_webhook_failed",
                               "Webhook events given up after a day of retries.",
                               labels=["webhook"])
    rows = session.execute(select(WebhookDelivery.endpoint, WebhookDelivery.state, func.count(),
                                  func.min(WebhookDelivery.created_at))
                           .where(WebhookDelivery.state.in_([PENDING, FAILED]))
                           .group_by(WebhookDelivery.endpoint, WebhookDelivery.state)).all()
    pending: dict[str, tuple[float, float]] = {}
    given_up: dict[str, float] = {}
    for url, state, count, first in rows:  # "other" may gather several urls: add them up
        label = receiver_label(endpoints or [], url)
        if state == PENDING:
            total, age = pending.get(label, (0.0, 0.0))
            pending[label] = (total + count, max(age, clock.timestamp() - _epoch(first)))
        else:
            given_up[label] = given_up.get(label, 0.0) + count
    for label, (total, age) in sorted(pending.items()):
        backlog.add_metric([label], total)
        oldest.add_metric([label], max(0.0, age))
    for label, total in sorted(given_up.items()):
        failed.add_metric([label], total)
    yield from (backlog, oldest, failed)


def init_app(app: Flask) -> None:
    """Read the receivers, subscribe the outbox to order changes, add the staff page."""
    settings = app.config["KIOSK_SETTINGS"]
    hooks = app.extensions["webhooks"] = Webhooks(endpoints_from(settings.webhooks))
    order_events.subscribe(write)
    # Anonymising an order forgets its card and name in the outbox as well.
    app.extensions.setdefault("anonymise_hooks", []).append(forget_patrons)
    app.extensions.setdefault("metrics_sources", []).append(
        functools.partial(backlog_metrics, endpoints=hooks.endpoints))
    from kiosk.webhooks import staffpage

    staffpage.init_app(app)
