"""The fleet: every station on a shared database writes a heartbeat; /staff/stations shows
them all, green, yellow (a device not ok) or red (silent for 2 minutes)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from kiosk.models import utcnow


@dataclass
class Fleet:
    """This station's part: when it started and last saw a scan; the clock (for tests)."""

    clock: Callable[[], dt.datetime] = utcnow
    started_at: dt.datetime = field(default_factory=utcnow)
    last_scan_at: dt.datetime | None = None

    def on_scan(self, _data: dict[str, Any], _seconds: float) -> None:
        self.last_scan_at = self.clock()


def init_app(app: Flask) -> None:
    """Keep this station's scan time for its heartbeat and add /staff/stations."""
    fleet = Fleet()
    app.extensions["fleet"] = fleet
    station = app.extensions.get("station")
    if station is not None:
        station.scan_hooks.append(fleet.on_scan)
    from kiosk.fleet import views

    views.init_app(app)
