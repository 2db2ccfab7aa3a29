"""What people and machines are told while the database is away: a 503 page, and metrics.

Staff pages answer one clear 503 page in the staff's language, the API a JSON 503; the
patron screen (/, /kiosk/...), /healthz, /metrics and static files go on as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kiosk.outage.state import Outage, unreachable

# Paths that do without the database, or answer for themselves when it is away.
OPEN_PREFIXES = ("/kiosk/", "/static/", "/healthz", "/metrics", "/favicon.ico")
RETRY_AFTER_S = "30"


def _outage() -> Outage:
    return current_app.extensions["outage"]


def unavailable(outage: Outage):
    """Return the 503 answer for this request: JSON for machines, the page for staff."""
    since, copy_at = outage.since_text()
    if request.path.startswith(("/api/", "/kiosk/")) or request.is_json:
        response = jsonify({"error": "database unreachable",
                            "detail": {"since": outage.down_since,
                                       "snapshot_taken_at": outage.data.taken_at
                                       if outage.data else None}})
    else:
        response = current_app.make_response(render_template(
            "outage/unreachable.html", since=since, copy_at=copy_at))
    response.status_code = 503
    response.headers["Retry-After"] = RETRY_AFTER_S
    return response


def guard():
    """Answer staff pages and the API with 503 at once while the database is known away."""
    outage = _outage()
    if not outage.down() or request.path == "/" or request.path.startswith(OPEN_PREFIXES):
        return None
    return unavailable(outage)


def on_database_error(exc: BaseException):
    """Answer a request whose statement found the database unreachable (errors hook)."""
    outage = _outage()
    if not unreachable(exc):
        return None
    outage.database_failed(exc)
    return unavailable(outage)


class SnapshotCollector(Collector):
    """The snapshot's age and whether scans are answered from it, read at each scrape."""

    def __init__(self, outage: Outage):
        self.outage = outage

    def collect(self) -> Iterator[Metric]:
        age = self.outage.age()
        yield GaugeMetricFamily("kiosk_snapshot_age_seconds",
                                "Age of the branch's local copy for outages (-1: none yet).",
                                value=age if age is not None else -1.0)
        yield GaugeMetricFamily("kiosk_snapshot_serving",
                                "1 while scans are answered from the local copy.",
                                value=1.0 if self.outage.serving() else 0.0)
        yield GaugeMetricFamily("kiosk_snapshot_file_failed",
                                "1 while the snapshot file cannot be written (a restart "
                                "during an outage would find an old copy or none).",
                                value=1.0 if self.outage.file_error else 0.0)
        yield GaugeMetricFamily("kiosk_database_unreachable",
                                "1 while the station cannot reach its database.",
                                value=1.0 if self.outage.down() else 0.0)
        yield GaugeMetricFamily("kiosk_outage_collects_pending",
                                "Collects made during an outage, not yet in the database.",
                                value=float(self.outage.pending() or 0))


def init_app(app: Flask, outage: Outage) -> None:
    """Put the guard first, hook the error handler and /metrics."""
    app.before_request_funcs.setdefault(None, []).insert(0, guard)
    app.extensions["database_unreachable"] = on_database_error
    metrics: Any = app.extensions.get("metrics")
    if metrics is not None:
        metrics.registry.register(SnapshotCollector(outage))
