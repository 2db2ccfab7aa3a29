"""What /metrics reads at scrape time: orders, shelf room, devices, the SIP2 queue."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from kiosk import clock
from kiosk.domain.clearance import clearance_list
from kiosk.models import ACTIVE_STATUSES, IlsJob, Order, OrderStatus, Place, Slot

log = logging.getLogger(__name__)

DEVICE_STATES = ("absent", "connected", "ok", "disconnected", "error")


def _timestamp(value: Any) -> float:
    """Return a database timestamp as seconds since the epoch (SQLite gives naive UTC)."""
    import datetime as dt

    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def device_metrics(station: Any) -> Iterator[Metric]:
    """Yield each device's state as a one-hot gauge, and whether the printer is out of paper."""
    states = GaugeMetricFamily("kiosk_device_state",
                               "1 for the state each device is in (absent: not configured).",
                               labels=["device", "state"])
    for name, device in station.devices.items():
        known = DEVICE_STATES if device.state in DEVICE_STATES else (*DEVICE_STATES, device.state)
        for state in known:
            states.add_metric([name, state], 1.0 if device.state == state else 0.0)
    yield states
    since = GaugeMetricFamily("kiosk_device_state_since_seconds",
                              "When each device entered its present state (Unix time).",
                              labels=["device"])
    for name, device in station.devices.items():
        since.add_metric([name], device.since)
    yield since
    printer = station.devices["printer"]
    yield GaugeMetricFamily("kiosk_printer_paper_out", "1 while the printer reports no paper.",
                            value=1.0 if printer.state == "error"
                            and printer.detail.endswith("out of paper") else 0.0)


def database_metrics(session: Any, station: Any) -> Iterator[Metric]:
    """Yield the gauges read from the database."""
    counts = dict(session.execute(select(Order.status, func.count()).group_by(Order.status)).all())
    orders = GaugeMetricFamily("kiosk_orders", "Orders by status (every branch).",
                               labels=["status"])
    for status in OrderStatus:
        orders.add_metric([status.value], float(counts.get(status.value, 0)))
    yield orders
    places = session.scalar(select(func.count(Place.id)).join(Slot).where(Slot.active.is_(True)))
    taken = session.scalar(select(func.count(Order.id)).join(Place, Order.place_id == Place.id)
                           .join(Slot).where(Slot.active.is_(True)))
    yield GaugeMetricFamily("kiosk_shelf_places", "Bag places on the shelves in use.",
                            value=float(places or 0))
    yield GaugeMetricFamily("kiosk_shelf_places_free", "Bag places with no bag in them.",
                            value=float((places or 0) - (taken or 0)))
    yield from branch_metrics(session)
    overdue = clearance_list(session, station.calendar).overdue
    yield GaugeMetricFamily("kiosk_bags_past_last_day",
                            "Bags on the shelf past their last day (to clear).",
                            value=float(len(overdue)))
    depth, oldest = session.execute(
        select(func.count(IlsJob.id), func.min(IlsJob.created_at))
        .where(IlsJob.state == "queued")).one()
    yield GaugeMetricFamily("kiosk_sip2_queue_depth",
                            "Checkouts and check-ins waiting to be sent to the library system.",
                            value=float(depth or 0))
    age = max(0.0, clock.timestamp() - _timestamp(oldest)) if oldest else 0.0
    yield GaugeMetricFamily("kiosk_sip2_queue_oldest_age_seconds",
                            "Age of the oldest job waiting for the ILS (0 when none waits).",
                            value=age)


def branch_metrics(session: Any) -> Iterator[Metric]:
    """Yield the open orders and the free bag places of every branch, labelled by branch."""
    per = GaugeMetricFamily("kiosk_branch_orders", "Open orders by branch and status.",
                            labels=["branch", "status"])
    for branch, status, n in session.execute(
            select(Order.branch, Order.status, func.count())
            .where(Order.status.in_([s.value for s in ACTIVE_STATUSES]))
            .group_by(Order.branch, Order.status).order_by(Order.branch, Order.status)):
        per.add_metric([branch, status], float(n))
    yield per
    free = GaugeMetricFamily("kiosk_branch_shelf_places_free",
                             "Bag places with no bag in them, by branch (its wall).",
                             labels=["branch"])
    taken = select(Order.place_id).where(Order.place_id.is_not(None))
    for branch, n in session.execute(
            select(Slot.branch, func.count(Place.id)).join(Place, Place.slot_id == Slot.id)
            .where(Slot.active.is_(True), Place.id.not_in(taken))
            .group_by(Slot.branch).order_by(Slot.branch)):
        free.add_metric([branch], float(n))
    yield free


def _no_url(value: str) -> str:
    if "://" not in value:
        return value
    return "url-" + hashlib.sha256(value.encode()).hexdigest()[:12]


def without_urls(metrics: Iterable[Metric]) -> Iterator[Metric]:
    """Yield metrics with any label value that is a url replaced by a short hash of it.

    Integrations name their neighbours by number; this catches one that would not, since
    a url may hold a secret and metrics are read by more people than the configuration.
    """
    for metric in metrics:
        metric.samples = [sample._replace(labels={k: _no_url(v) for k, v in
                                                  sample.labels.items()})
                          for sample in metric.samples]
        yield metric


class StationCollector(Collector):
    """Read the station's gauges on each scrape; a database error shows as database_up 0."""

    def __init__(self, app: Any):
        from kiosk.appsetup import session_scope

        self.app = app
        self.scope = session_scope(app)

    def collect(self) -> Iterator[Metric]:
        station = self.app.extensions["station"]
        yield from device_metrics(station)
        gathered: list[Metric] = []
        up = 1.0
        try:
            with self.scope() as session:
                gathered.extend(database_metrics(session, station))
                for source in self.app.extensions.get("metrics_sources", []):
                    gathered.extend(without_urls(source(session)))
                session.rollback()  # read only; leave no transaction open
        except Exception:
            log.exception("reading metrics from the database failed")
            up, gathered = 0.0, []
        yield GaugeMetricFamily("kiosk_database_up", "1 when the database answered this scrape.",
                                value=up)
        yield from gathered
