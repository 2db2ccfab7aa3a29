"""Check-in at shelving (SIP2 09/10): the station checks items in as a hold-shelf system does.

When a bag goes on a slot (an item bag with `[ils] holds_from_ils`, any order with items
with `[ils] checkin_on_shelve`), each of its items not yet checked in is sent as a 09
Checkin with the item, the institution and the station's location; the ILS then marks
the hold waiting and tells the patron itself. kiosk.ils.checkin_answer reads the answer:
a hold here lets the bag onto the slot (an item bag learns its card); a hold elsewhere,
no hold, or a refusal stops the shelving with the reason, item by item.

Each check-in is a job of the durable queue (kiosk.ils.queue), committed before it is
sent. With the ILS away the jobs stay queued, the bag is shelved, and the answer is
applied when the queue is replayed. An item is checked in once: moving a bag between
slots sends nothing, and an item taken off and shelved again the same day is not sent
again (staff can ask for it on /staff/ils/); a later day's shelving checks it in anew.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk import clock
from kiosk.domain import shelving
from kiosk.domain.messages import N_, StationError
from kiosk.ils import checkin_answer, queue
from kiosk.ils.client import LinkDown, LoginRefused
from kiosk.ils.link import IlsLink
from kiosk.models import IlsJob, Item, Order, OrderStatus

log = logging.getLogger(__name__)


def wanted(order: Order, ils: Any) -> bool:
    """Return True when shelving this order checks its items in (see the module doc)."""
    if ils.kind != "sip2" or not order.items:
        return False
    if order.source == "ils":  # an item bag (kiosk.ils.item_bags)
        return bool(ils.holds_from_ils or ils.checkin_on_shelve)
    return bool(ils.checkin_on_shelve)


def _local_day(when: dt.datetime | None) -> dt.date | None:
    if when is None:
        return None
    if when.tzinfo is None:  # SQLite hands back naive UTC times
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone().date()


def _job(session: Session, item: Item, moving: bool, today: dt.date) -> IlsJob:
    """Return the item's check-in job, queued if it is to be sent now."""
    job = queue.job_of(session, item, queue.CHECKIN)
    if job is None:
        job = IlsJob(kind=queue.CHECKIN, order_id=item.order_id, item_id=item.id, card="",
                     item_barcode=item.barcode, state=queue.QUEUED, attempts=0)
        session.add(job)
    elif job.state in (queue.REFUSED, queue.FAILED) or (
            job.state == queue.DONE and not moving and _local_day(job.done_at) != today):
        job.state, job.message, job.alert, job.destination = queue.QUEUED, None, None, None
        job.attempts = 0
    return job


@dataclass
class CheckinOutcome:
    """What shelving sent: per item "checked_in", "queued" or "refused"; the problems."""

    items: dict[str, str] = field(default_factory=dict)
    problems: list[StationError] = field(default_factory=list)
    details: list[dict] = field(default_factory=list)

    @property
    def queued(self) -> list[str]:
        return [b for b, state in self.items.items() if state == "queued"]


def check_in(session: Session, order: Order, link: IlsLink,
             today: dt.date | None = None) -> CheckinOutcome:
    """Check in the order's items that need it; queue them when the ILS is away."""
    today = today or clock.today()
    moving = order.status == OrderStatus.READY and order.place_id is not None
    outcome = CheckinOutcome()
    with link.queue_lock:
        try:
            jobs = [_job(session, item, moving, today) for item in order.items]
            session.commit()  # durable before anything is sent
        except IntegrityError:  # another station made the job a moment ago: take it
            session.rollback()
            jobs = [_job(session, item, moving, today) for item in order.items]
            session.commit()
        offline = False
        for job in jobs:
            if job.state == queue.QUEUED and not offline:
                try:
                    queue.send_job(session, job, link)
                except (LinkDown, LoginRefused) as exc:
                    session.rollback()
                    offline = True
                    log.info("ILS unavailable at shelving (%s); check-ins queued", exc)
            state = {queue.DONE: "checked_in", queue.QUEUED: "queued"}.get(job.state, "refused")
            outcome.items[job.item_barcode] = state
            if state == "refused":
                outcome.problems.append(_problem(job))
                outcome.details.append({"barcode": job.item_barcode, "alert": job.alert,
                                        "destination": job.destination,
                                        "message": job.message})
    return outcome


def _problem(job: IlsJob) -> StationError:
    return checkin_answer.problem_of(job.item_barcode, job.state, job.alert, job.destination,
                                     job.message)


def shelving_hook(link: IlsLink, station: Any):
    """Return a shelve hook: check the bag's items in; refuse the slot when the ILS says so."""
    ils = station.settings.ils

    def hook(session: Session, order: Order, actor: Any) -> list[StationError]:
        if not wanted(order, ils):
            return []
        outcome = check_in(session, order, link)
        if outcome.problems:
            raise shelving.ShelvingRefused(outcome.problems, {
                "kind": "checkin_refused", "items": outcome.details})
        if outcome.queued:
            return [StationError(N_("Check-in of %(items)s queued: the library system did "
                                    "not answer; it is sent when the link is back"),
                                 items=", ".join(outcome.queued))]
        return []

    return hook
