"""Statistics from orders' statuses and timestamps (never from cards, so they survive privacy).

Counted per day and per ISO week in the library's local time: bags put on the
shelf (ready), bags collected, bags cleared uncollected (expired); the median
time from shelf to patron; the share never collected; and how the slots are used.
The database counts per hour; hours fall into local days in Python.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.domain.messages import N_, StationError
from kiosk.domain.shelving import occupancy
from kiosk.models import Order, OrderStatus, Shelf, Slot

MAX_DAYS = 732
KINDS = ("ready", "collected", "expired")


@dataclass
class Bucket:
    """Counts for one day or one ISO week (start is that day, or that week's Monday)."""

    start: dt.date
    name: str
    ready: int = 0
    collected: int = 0
    expired: int = 0


@dataclass(frozen=True)
class SlotUse:
    """One slot: bags in it now, its capacity, and bags shelved on it in the period."""

    label: str
    capacity: int
    now: int
    shelved: int


@dataclass
class Report:
    """Every figure for one period."""

    start: dt.date
    end: dt.date
    days: list[Bucket]
    weeks: list[Bucket]
    median_to_collect: dt.timedelta | None
    uncollected_share: float | None
    slots: list[SlotUse] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, int]:
        return {k: sum(getattr(d, k) for d in self.days) for k in KINDS}

    @property
    def occupancy_now(self) -> tuple[int, int]:
        """Return (bags on the shelf now, places in all slots in use)."""
        return sum(s.now for s in self.slots), sum(s.capacity for s in self.slots)


def _local_day(moment: dt.datetime, tz: dt.tzinfo | None) -> dt.date:
    if moment.tzinfo is None:  # SQLite gives back naive UTC
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(tz).date()


def _bounds(start: dt.date, end: dt.date, tz: dt.tzinfo | None) -> tuple[dt.datetime, ...]:
    """Return the period's first and after-last moment in UTC, one day wider for safety."""
    lo = dt.datetime.combine(start - dt.timedelta(days=1), dt.time(), tz)
    hi = dt.datetime.combine(end + dt.timedelta(days=2), dt.time(), tz)
    return lo.astimezone(dt.UTC), hi.astimezone(dt.UTC)


class BadPeriod(StationError, ValueError):
    """A period that ends before it starts, or is too long; the message says which."""


def check_period(start: dt.date, end: dt.date) -> None:
    """Raise BadPeriod (a ValueError) unless start..end is a sensible period."""
    if end < start:
        raise BadPeriod(N_("The period ends before it starts"))
    if (end - start).days >= MAX_DAYS:
        raise BadPeriod(N_("The period is longer than %(days)d days"), days=MAX_DAYS)


def _at(query, branch: str | None):
    """Return query kept to orders of branch; every branch for None.

    The comparison is wrapped (coalesce) so no planner takes the branch index and reads
    every order of the branch: the period's range in the time indexes, which carry the
    branch (0010), is the short read.
    """
    if branch is None:
        return query
    return query.where(func.coalesce(Order.branch, "") == branch)


def report(session: Session, start: dt.date, end: dt.date,
           tz: dt.tzinfo | None = None, branch: str | None = None) -> Report:
    """Return the statistics of the days start..end (inclusive), in time zone tz (local),
    of one branch or (None) of every branch."""
    check_period(start, end)
    lo, hi = _bounds(start, end, tz)
    first = dt.datetime.combine(start, dt.time(), tz).astimezone(dt.UTC)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    days = {start + dt.timedelta(days=i): Bucket(start + dt.timedelta(days=i), "")
            for i in range((end - start).days + 1)}
    for day, bucket in days.items():
        bucket.name = day.isoformat()
    dialect = session.get_bind().dialect.name
    shelved, closed = _hour(Order.shelved_at, dialect), _hour(Order.closed_at, dialect)
    for hour, count in session.execute(_at(
            select(shelved, func.count()).where(Order.shelved_at.between(lo, hi))
            .group_by(shelved), branch)):
        day = _local_day(_utc_hour(hour), tz)
        if day in days:
            days[day].ready += count
    was_shelved = Order.shelved_at.is_not(None)
    for hour, status, on_shelf, count in session.execute(_at(
            select(closed, Order.status, was_shelved, func.count())
            .where(Order.closed_at.between(lo, hi))  # statuses sorted out below: the
            .group_by(closed, Order.status, was_shelved), branch)):  # closed_at index
        day = _local_day(_utc_hour(hour), tz)
        if day not in days:
            continue
        if status == OrderStatus.COLLECTED:
            days[day].collected += count
        elif status == OrderStatus.EXPIRED and on_shelf:  # cleared from the shelf
            days[day].expired += count
    # to the millisecond: SQLite's julianday arithmetic is a few microseconds off
    waits = [round(float(w), 3) for status, w in session.execute(_at(
        select(Order.status, _seconds(Order.shelved_at, Order.closed_at, dialect))
        .where(Order.closed_at >= first, Order.closed_at < after, was_shelved), branch))
        if status == OrderStatus.COLLECTED]
    shelved_on = {(b, label): n for b, label, n in session.execute(_at(
        select(Order.branch, Order.slot_label, func.count())
        .where(Order.shelved_at >= first, Order.shelved_at < after,
               Order.slot_label.is_not(None)).group_by(Order.branch, Order.slot_label),
        branch))}
    totals = {k: sum(getattr(b, k) for b in days.values()) for k in KINDS}
    closed_n = totals["collected"] + totals["expired"]
    return Report(
        start=start, end=end, days=list(days.values()), weeks=_weeks(days.values()),
        median_to_collect=dt.timedelta(seconds=statistics.median(waits)) if waits else None,
        uncollected_share=totals["expired"] / closed_n if closed_n else None,
        slots=slot_use(session, shelved_on, branch),
    )


# Counting is done by the database, per hour of UTC (a few hundred rows for a month, not one
# per bag); hours then fall into the library's local days, exact for time zones a whole
# number of hours off UTC (as Norway's). Waits are computed in seconds by the database too.

def _hour(column, dialect: str):
    """Return SQL for column's UTC hour as text, "YYYY-MM-DD HH"."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD HH24")
    return func.substr(column, 1, 13)  # SQLite keeps naive UTC as "YYYY-MM-DD HH:MM:SS..."


def _utc_hour(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{text}:00+00:00")  # strptime is ten times slower


def _seconds(begin, end, dialect: str):
    """Return SQL for the seconds from begin to end."""
    if dialect == "postgresql":
        return func.extract("epoch", end - begin)
    return (func.julianday(end) - func.julianday(begin)) * 86400.0


def _weeks(days) -> list[Bucket]:
    weeks: dict[tuple[int, int], Bucket] = {}
    for d in days:
        year, week, weekday = d.start.isocalendar()
        bucket = weeks.get((year, week))
        if bucket is None:
            monday = d.start - dt.timedelta(days=weekday - 1)
            bucket = weeks[(year, week)] = Bucket(monday, f"{year}-W{week:02d}")
        for kind in KINDS:
            setattr(bucket, kind, getattr(bucket, kind) + getattr(d, kind))
    return list(weeks.values())


def slot_use(session: Session, shelved_on: dict[tuple[str, str], int] | None = None,
             branch: str | None = None) -> list[SlotUse]:
    """Return every slot in use (of branch's wall, or every wall: then labelled with their
    branch) with its bags now and (if given) bags shelved there in a period, by (branch,
    label)."""
    now = occupancy(session, branch)
    query = (select(Slot.id, Slot.branch, Slot.label, Slot.capacity).join(Shelf)
             .where(Slot.active.is_(True)).order_by(Shelf.branch, Shelf.position, Slot.number))
    if branch is not None:
        query = query.where(Slot.branch == branch)
    shelved_on = shelved_on or {}
    rows = session.execute(query).all()
    several = len({row[1] for row in rows}) > 1  # "A-01" hangs at every branch
    return [SlotUse(f"{wall} {label}" if several else label, capacity, now.get(slot_id, 0),
                    shelved_on.get((wall, label), 0))
            for slot_id, wall, label, capacity in rows]


def branch_totals(session: Session, start: dt.date, end: dt.date,
                  tz: dt.tzinfo | None = None) -> dict[str, dict[str, int]]:
    """Return per branch the bags shelved, collected and cleared uncollected in start..end
    (local days), to compare branches."""
    check_period(start, end)
    first = dt.datetime.combine(start, dt.time(), tz).astimezone(dt.UTC)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    totals: dict[str, dict[str, int]] = {}

    def add(branch: str, kind: str, n: int) -> None:
        totals.setdefault(branch, dict.fromkeys(KINDS, 0))[kind] += n

    for branch, n in session.execute(
            select(Order.branch, func.count())
            .where(Order.shelved_at >= first, Order.shelved_at < after)
            .group_by(Order.branch)):
        add(branch, "ready", n)
    for branch, status, n in session.execute(
            select(Order.branch, Order.status, func.count())
            .where(Order.closed_at >= first, Order.closed_at < after,
                   Order.shelved_at.is_not(None))
            .group_by(Order.branch, Order.status)):
        if status == OrderStatus.COLLECTED:
            add(branch, "collected", n)
        elif status == OrderStatus.EXPIRED:
            add(branch, "expired", n)
    return dict(sorted(totals.items()))


def hours(delta: dt.timedelta | None) -> float | None:
    """Return a duration in hours, rounded to one decimal."""
    return None if delta is None else round(delta.total_seconds() / 3600, 1)


def to_csv(rep: Report, by: str = "day") -> str:
    """Return the report as CSV: one row per day, per ISO week or per slot."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    if by == "slot":
        writer.writerow(["slot", "capacity", "bags_now", "bags_shelved"])
        writer.writerows([s.label, s.capacity, s.now, s.shelved] for s in rep.slots)
        return out.getvalue()
    if by not in ("day", "week"):
        raise ValueError("The by parameter must be day, week or slot")
    writer.writerow([by, "start", *KINDS])
    for b in rep.days if by == "day" else rep.weeks:
        writer.writerow([b.name, b.start.isoformat(), b.ready, b.collected, b.expired])
    return out.getvalue()
