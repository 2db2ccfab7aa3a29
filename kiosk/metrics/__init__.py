"""Prometheus metrics: GET /metrics in the text format, with the official client.

Counters and histograms (scans, scan latency, import durations) are kept in memory by
hooks on the station and on the domain's import; gauges (orders by status, free
places, bags past their last day, devices, the SIP2 queue, and whatever another
integration adds through `app.extensions["metrics_sources"]`) are read when scraped.
No label ever holds a card number, pickup code or name.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from flask import Blueprint, Flask, Response, current_app, has_app_context, jsonify, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from kiosk.api.auth import TokenFile, bearer_token
from kiosk.domain import order_events
from kiosk.extensions import limiter
from kiosk.metrics.collector import StationCollector

bp = Blueprint("metrics", __name__)

SCAN_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
IMPORT_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)


class StationMetrics:
    """One app's registry: its counters, histograms and the collector read at scrape time."""

    def __init__(self, app: Flask):
        self.registry = CollectorRegistry()
        self.scans = Counter("kiosk_scans", "Scans handled, by outcome and source.",
                             ["outcome", "source"], registry=self.registry)
        self.scan_seconds = Histogram("kiosk_scan_duration_seconds",
                                      "Time from a scan's text to its published answer.",
                                      buckets=SCAN_BUCKETS, registry=self.registry)
        self.import_seconds = Histogram("kiosk_import_duration_seconds",
                                        "Time an import took to write its orders.",
                                        buckets=IMPORT_BUCKETS, registry=self.registry)
        self.imported = Counter("kiosk_imported_orders", "Orders written by imports.",
                                registry=self.registry)
        self.registry.register(StationCollector(app))
        token_file = app.config["KIOSK_SETTINGS"].metrics.token_file
        self.tokens = TokenFile(token_file) if token_file else None

    def on_scan(self, data: dict[str, Any], seconds: float) -> None:
        self.scans.labels(outcome=str(data.get("outcome", "unknown"))[:32],
                          source=str(data.get("source", "unknown"))[:16]).inc()
        self.scan_seconds.observe(seconds)

    def on_import(self, orders: int, seconds: float) -> None:
        self.imported.inc(orders)
        self.import_seconds.observe(seconds)


def _on_import(orders: int, seconds: float) -> None:
    """Count an import for the app it ran in (the domain knows no app)."""
    if has_app_context():
        metrics = current_app.extensions.get("metrics")
        if metrics is not None:
            metrics.on_import(orders, seconds)


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


# Headers a reverse proxy adds. waitress drops the X-Forwarded-* ones and Forwarded when
# `[server] trusted_proxy` is off, so the site file (deploy/nginx-kiosk.conf) also sends
# Via, which waitress leaves alone: a request through the proxy is known as one either way.
PROXY_HEADERS = ("Via", "Forwarded", "X-Forwarded-For", "X-Forwarded-Proto", "X-Real-IP")


def _through_proxy() -> bool:
    if "werkzeug.proxy_fix.orig" in request.environ:  # ProxyFix took a forwarded address
        return True
    return any(name in request.headers for name in PROXY_HEADERS)


def refusal() -> tuple[Response, int] | None:
    """Return the answer refusing this scrape, or None when it may read the metrics.

    With `[metrics] token_file` set, a bearer token from it is required however the
    request arrives. Without one, only loopback may read, and never through a proxy.
    """
    metrics: StationMetrics = current_app.extensions["metrics"]
    if metrics.tokens is not None:
        if metrics.tokens.check(bearer_token(request.headers.get("Authorization")) or ""):
            return None
        response = jsonify({"error": "unauthorized", "detail": "a bearer token is required"})
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response, 401
    if _loopback(request.remote_addr) and not _through_proxy():
        return None
    return jsonify({"error": "forbidden",
                    "detail": "metrics are served to loopback only; set [metrics] token_file"}), 403


@bp.get("/metrics")
@limiter.exempt
def scrape():
    refused = refusal()
    if refused is not None:
        return refused
    body = generate_latest(current_app.extensions["metrics"].registry)
    return Response(body, mimetype=None, content_type=CONTENT_TYPE_LATEST,
                     headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    """Make the app's metrics, hook them to the station's scans and imports, serve /metrics."""
    metrics = StationMetrics(app)
    app.extensions["metrics"] = metrics
    station = app.extensions.get("station")
    if station is not None:
        station.scan_hooks.append(metrics.on_scan)
    order_events.subscribe_imports(_on_import)
    app.register_blueprint(bp)
