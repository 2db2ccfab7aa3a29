"""Heartbeats of the stations sharing a database: each writes its own row every 30 s.

A row says who the station is (name, branch, version), how its devices are, when it
last saw a scan and how many checkouts wait for the library system. `state_of` turns a
row into green (all well), yellow (a device not ok) or red (no heartbeat for 2 minutes).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from kiosk.extensions import db
from kiosk.models import IlsJob

SILENT_AFTER = dt.timedelta(minutes=2)
OK_STATES = ("absent", "connected", "ok")  # absent: not configured, nothing to fix
GREEN, YELLOW, RED = "green", "yellow", "red"


class StationHeartbeat(db.Model):
    """The last heartbeat of one station (by name)."""

    __tablename__ = "station_heartbeats"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    branch: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(32))
    devices: Mapped[str] = mapped_column(Text)  # JSON {device: {state, detail}}
    last_scan_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    queue_depth: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Beat:
    """What one station says of itself."""

    name: str
    branch: str
    version: str
    devices: dict[str, dict[str, str]]
    last_scan_at: dt.datetime | None
    started_at: dt.datetime


def version() -> str:
    """Return the installed station software's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("kiosk")
    except PackageNotFoundError:
        return "unknown"


def queue_depth(session: Session) -> int:
    """Return how many checkouts and check-ins wait to be sent to the library system."""
    return session.scalar(select(func.count(IlsJob.id))
                          .where(IlsJob.state == "queued")) or 0


def beat(session: Session, me: Beat, now: dt.datetime) -> None:
    """Write this station's heartbeat (insert the first time, update after); commit."""
    values = {"branch": me.branch, "version": me.version[:32],
              "devices": json.dumps(me.devices, ensure_ascii=False),
              "last_scan_at": me.last_scan_at, "queue_depth": queue_depth(session),
              "started_at": me.started_at, "seen_at": now}
    done = session.execute(update(StationHeartbeat).where(StationHeartbeat.name == me.name)
                           .values(**values))
    if done.rowcount == 0:
        try:
            with session.begin_nested():
                session.add(StationHeartbeat(name=me.name, **values))
        except IntegrityError:  # the same name started a moment ago elsewhere: update it
            session.execute(update(StationHeartbeat)
                            .where(StationHeartbeat.name == me.name).values(**values))
    session.commit()


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """Return a database timestamp as aware UTC (SQLite gives naive UTC)."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def state_of(row: StationHeartbeat, now: dt.datetime) -> str:
    """Return red (silent 2 min), yellow (a device not ok) or green."""
    if now - aware(row.seen_at) >= SILENT_AFTER:
        return RED
    devices = json.loads(row.devices or "{}")
    if any(d.get("state") not in OK_STATES for d in devices.values()):
        return YELLOW
    return GREEN


def stations(session: Session) -> list[StationHeartbeat]:
    """Return every station's last heartbeat, by branch and name."""
    return list(session.scalars(select(StationHeartbeat)
                                .order_by(StationHeartbeat.branch, StationHeartbeat.name)))


def describe(station: Any, last_scan_at: dt.datetime | None, started_at: dt.datetime) -> Beat:
    """Return the heartbeat of a running Station."""
    devices = {name: {"state": d.state, "detail": d.detail[:200]}
               for name, d in station.devices.items()}
    return Beat(station.name, station.branch, version(), devices, last_scan_at, started_at)
