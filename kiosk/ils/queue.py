"""The durable ILS queue: checkouts and check-ins to send to the ILS, each exactly once.

Every checkout (at collect) and check-in (at shelving, kiosk.ils.checkin), whether sent
at once or later, is an `ils_jobs` row of its kind, and a job is only ever sent through
`send_job`, which keeps to this order:

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

A check-in sent twice is harmless the same way: checking in an item already waiting on
the hold shelf answers the same hold again, and the answer is applied once, when the
job moves on (kiosk.ils.checkin_answer). Jobs of both kinds share one order, so a
check-in queued at shelving goes out before a checkout queued at collect of that item.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.domain.cards import mask
from kiosk.ils import checkin_answer, sip2
from kiosk.ils.client import LinkDown, LoginRefused
from kiosk.ils.link import IlsLink
from kiosk.models import IlsJob, Item, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
QUEUED, DONE, REFUSED, FAILED = "queued", "done", "refused", "failed"
CHECKOUT, CHECKIN = "checkout", "checkin"
KINDS = (CHECKOUT, CHECKIN)


@dataclass
class ReplayReport:
    """What one replay did: jobs lent, refused, failed, and whether the link held."""

    done: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    link_down: bool = False


def job_of(session: Session, item: Item, kind: str) -> IlsJob | None:
    """Return the item's job of this kind, if it has one."""
    return session.scalar(select(IlsJob).where(IlsJob.kind == kind, IlsJob.item_id == item.id))


def job_for_item(session: Session, item: Item, card: str) -> IlsJob:
    """Return the item's checkout job, creating a queued one (a refused one is queued again)."""
    job = job_of(session, item, CHECKOUT)
    if job is None:
        job = IlsJob(kind=CHECKOUT, order_id=item.order_id, item_id=item.id, card=card,
                     item_barcode=item.barcode, state=QUEUED, attempts=0)
        session.add(job)
    elif job.state in (REFUSED, FAILED):
        job.state, job.card, job.message = QUEUED, card, None
    return job


def pending(session: Session, limit: int = 500) -> list[IlsJob]:
    """Return the queued jobs of both kinds, oldest first."""
    return list(session.scalars(select(IlsJob).where(IlsJob.state == QUEUED)
                                .order_by(IlsJob.id).limit(limit)))


def counts(session: Session, kind: str = CHECKOUT) -> dict[str, int]:
    """Return how many jobs of a kind are in each state."""
    rows = session.execute(select(IlsJob.state, func.count()).where(IlsJob.kind == kind)
                           .group_by(IlsJob.state))
    return {QUEUED: 0, DONE: 0, REFUSED: 0, FAILED: 0, **dict(rows.all())}


def _record(session: Session, job: IlsJob, state: str, due: str | None,
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


def send_job(session: Session, job: IlsJob, link: IlsLink) -> str:
    """Send one queued job as described above; return its new state (LinkDown propagates)."""
    if job.state != QUEUED:
        return job.state
    if job.attempts >= MAX_ATTEMPTS:
        _record(session, job, FAILED, None,
                f"no answer from the ILS after {job.attempts} attempts")
        return FAILED
    unsendable = _unsendable(job, link)
    if unsendable:  # refused at once with the reason: no retries, nothing held up behind it
        _record(session, job, REFUSED, None, unsendable)
        log.warning("%s of item %r refused: %s", job.kind, job.item_barcode, unsendable)
        return REFUSED
    link.ready()  # LinkDown here: nothing was sent, the attempt does not count
    maybe_sent = job.attempts > 0
    job.attempts += 1
    session.commit()  # step 2: from here on the request may have reached the ILS
    if job.kind == CHECKIN:
        return checkin_answer.apply(session, job, link.checkin(job.item_barcode), link).state
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


def _unsendable(job: IlsJob, link: IlsLink) -> str | None:
    """Return why the job's request cannot be put into a SIP2 frame, or None if it can.

    A barcode or card with `|`, CR, LF or NUL, or a character the link's encoding lacks
    (data from before identifiers were checked), can never be sent: trying again is useless.
    """
    if job.kind == CHECKIN:
        parts = sip2.checkin(link.institution, job.item_barcode, link.endpoint.location,
                             terminal_password=link.terminal_password)
    else:
        parts = sip2.checkout(link.institution, job.card, job.item_barcode,
                              terminal_password=link.terminal_password)
    try:
        sip2.encode(*parts, sequence=0, encoding=link.endpoint.encoding)
    except (ValueError, LookupError) as exc:  # UnicodeEncodeError is a ValueError
        reason = ("holds a character the library system's encoding "
                  f"{link.endpoint.encoding} lacks" if isinstance(exc, UnicodeError)
                  else str(exc))
        return f"cannot be sent to the library system: {reason}"
    return None


def _charged_to(link: IlsLink, job: IlsJob) -> bool:
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
                log.info("replay of ILS jobs paused: %s", exc)
                break
            {DONE: report.done, REFUSED: report.refused, FAILED: report.failed}.get(
                state, []).append(job.id)
    if report.done or report.refused or report.failed:
        log.info("replayed ILS jobs: %d done, %d refused, %d failed",
                 len(report.done), len(report.refused), len(report.failed))
    return report


def retry(session: Session, job_id: int) -> IlsJob | None:
    """Put a refused or failed job back in the queue (staff); return it, or None.

    A check-in that went through may be asked again too (the item came back to the shelf).
    """
    job = session.get(IlsJob, job_id)
    again = (REFUSED, FAILED, DONE) if job is not None and job.kind == CHECKIN else (
        REFUSED, FAILED)
    if job is None or job.state not in again:
        return None
    job.state, job.message, job.alert, job.destination = QUEUED, None, None, None
    if job.attempts >= MAX_ATTEMPTS:
        job.attempts = 1  # keep "may have been sent" but allow new tries
    session.commit()
    return job
