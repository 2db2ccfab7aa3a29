"""The durable checkout queue: checkouts to send to the ILS, each lent exactly once.

Every checkout, whether sent at once or later, is a `checkout_jobs` row, and a job
is only ever sent through `send_job`, which keeps to this order:

1. The job is committed (state `queued`) before anything is sent.
2. Its `attempts` is raised and committed *before* the 11 Checkout goes out.
   `attempts > 0` with state `queued` means "may have reached the ILS".
3. The answer is committed at once: `done` (with due date) or `refused` (with the
   ILS's screen message).

A crash, a timeout or a dropped connection between 2 and 3 leaves the job queued
with attempts > 0. Replaying it sends the same checkout again, with the SC renewal
policy on: an ILS answers a checkout of an item already lent to the same patron as a
renewal (ok, renewal Y), so the job ends `done` and the item is still lent once — a
loan is a state in the ILS, not a count. Should an ILS refuse that repeat instead,
`send_job` asks 63 Patron Information for the patron's charged items before it
believes the refusal: an item found there is `done`. So a job is neither lost (rows
are never deleted, only moved on) nor lent twice. Jobs are replayed in id order; the
replay stops at the first job whose answer is unknown and goes on when the link is
back. One process sends at a time (`link.queue_lock`). A job whose answer stays
unknown after MAX_ATTEMPTS sends is marked `failed` for staff to look at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.domain.cards import mask
from kiosk.ils.client import LinkDown, LoginRefused
from kiosk.ils.link import IlsLink
from kiosk.models import CheckoutJob, Item, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
QUEUED, DONE, REFUSED, FAILED = "queued", "done", "refused", "failed"


@dataclass
class ReplayReport:
    """What one replay did: jobs lent, refused, failed, and whether the link held."""

    done: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    link_down: bool = False


def job_for_item(session: Session, item: Item, card: str) -> CheckoutJob:
    """Return the item's job, creating a queued one (a refused one is queued again)."""
    job = session.scalar(select(CheckoutJob).where(CheckoutJob.item_id == item.id))
    if job is None:
        job = CheckoutJob(order_id=item.order_id, item_id=item.id, card=card,
                          item_barcode=item.barcode, state=QUEUED, attempts=0)
        session.add(job)
    elif job.state in (REFUSED, FAILED):
        job.state, job.card, job.message = QUEUED, card, None
    return job


def pending(session: Session, limit: int = 500) -> list[CheckoutJob]:
    """Return the queued jobs, oldest first."""
    return list(session.scalars(select(CheckoutJob).where(CheckoutJob.state == QUEUED)
                                .order_by(CheckoutJob.id).limit(limit)))


def counts(session: Session) -> dict[str, int]:
    """Return how many jobs are in each state."""
    rows = session.execute(select(CheckoutJob.state, func.count()).group_by(CheckoutJob.state))
    return {QUEUED: 0, DONE: 0, REFUSED: 0, FAILED: 0, **dict(rows.all())}


def _record(session: Session, job: CheckoutJob, state: str, due: str | None,
            message: str | None) -> None:
    job.state, job.due_date = state, due or None
    job.message = (message or "")[:500] or None
    job.done_at = utcnow()
    item = session.get(Item, job.item_id) if job.item_id else None
    if item is not None:
        if state == DONE:
            item.lent_at, item.due_date = item.lent_at or utcnow(), due or None
        item.ils_message = job.message
    session.commit()


def send_job(session: Session, job: CheckoutJob, link: IlsLink) -> str:
    """Send one queued job as described above; return its new state (LinkDown propagates)."""
    if job.state != QUEUED:
        return job.state
    if job.attempts >= MAX_ATTEMPTS:
        _record(session, job, FAILED, None,
                f"no answer from the ILS after {job.attempts} attempts")
        return FAILED
    link.ready()  # LinkDown here: nothing was sent, the attempt does not count
    maybe_sent = job.attempts > 0
    job.attempts += 1
    session.commit()  # step 2: from here on the checkout may have reached the ILS
    result = link.checkout(job.card, job.item_barcode)
    if result.ok:
        _record(session, job, DONE, result.due_date,
                "already lent to this patron" if maybe_sent and result.renewal
                else result.message)
        return DONE
    if maybe_sent and _charged_to(link, job):
        _record(session, job, DONE, None, "already lent to this patron")
        return DONE
    _record(session, job, REFUSED, None, result.message or "refused by the ILS")
    log.info("checkout of item %s to card %s refused: %s", job.item_barcode, mask(job.card),
             result.message)
    return REFUSED


def _charged_to(link: IlsLink, job: CheckoutJob) -> bool:
    try:
        info = link.patron(job.card, summary="charged")
    except (LinkDown, LoginRefused):
        raise LinkDown("the ILS went away while checking a repeated checkout") from None
    return job.item_barcode in info.charged_items


def replay(session: Session, link: IlsLink, limit: int = 200) -> ReplayReport:
    """Send queued jobs in order until the queue is empty or the link fails."""
    report = ReplayReport()
    with link.queue_lock:
        for job in pending(session, limit):
            try:
                state = send_job(session, job, link)
            except (LinkDown, LoginRefused) as exc:
                session.rollback()
                report.link_down = True
                log.info("replay of checkout jobs paused: %s", exc)
                break
            {DONE: report.done, REFUSED: report.refused, FAILED: report.failed}.get(
                state, []).append(job.id)
    if report.done or report.refused or report.failed:
        log.info("replayed checkout jobs: %d lent, %d refused, %d failed",
                 len(report.done), len(report.refused), len(report.failed))
    return report


def retry(session: Session, job_id: int) -> CheckoutJob | None:
    """Put a refused or failed job back in the queue (staff); return it, or None."""
    job = session.get(CheckoutJob, job_id)
    if job is None or job.state not in (REFUSED, FAILED):
        return None
    job.state, job.message = QUEUED, None
    if job.attempts >= MAX_ATTEMPTS:
        job.attempts = 1  # keep "may have been sent" but allow new tries
    session.commit()
    return job
