"""Staff page /staff/ils/: the ILS link's state, the queue of checkouts and check-ins, and
what failed (with "try again"; a check-in that went through can be sent again).

With holds in the ILS it also shows scans that fell back to local data, and the last
reconciliation of the shelves with the ILS, which staff can run on demand.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from kiosk.domain.cards import mask
from kiosk.domain.messages import N_
from kiosk.extensions import db
from kiosk.ils import attach, queue, reconcile
from kiosk.models import IlsJob
from kiosk.staff.auth import login_required
from kiosk.staff.words import namer

bp = Blueprint("ils_staff", __name__, url_prefix="/staff/ils")
# What staff read for a checkout's state.
JOB_STATES = {queue.QUEUED: N_("queued"), queue.DONE: N_("done"), queue.REFUSED: N_("refused"),
              queue.FAILED: N_("failed")}


def _station():
    return current_app.extensions["station"]


@bp.get("/")
@login_required
def overview():
    station = _station()
    problems = db.session.scalars(
        select(IlsJob).where(IlsJob.state.in_([queue.REFUSED, queue.FAILED]))
        .order_by(IlsJob.id.desc()).limit(200)).all()

    def recent(kind: str) -> list[IlsJob]:
        return list(db.session.scalars(
            select(IlsJob).where(IlsJob.state == queue.DONE, IlsJob.kind == kind)
            .order_by(IlsJob.id.desc()).limit(20)))

    return render_template(
        "ils/queue.html", link=station.devices["ils"], configured=station.ils is not None,
        counts=queue.counts(db.session), checkin_counts=queue.counts(db.session, queue.CHECKIN),
        queued=queue.pending(db.session, 200), problems=problems,
        recent=recent(queue.CHECKOUT), checked_in=recent(queue.CHECKIN),
        holds=getattr(station, "holds", None), job_state_name=namer(JOB_STATES))


@bp.post("/replay")
@login_required
def replay_now():
    link = attach(_station())
    if link is None:
        flash(_("No library system is configured."), "error")
    else:
        report = queue.replay(db.session, link)
        counts = {"done": len(report.done), "refused": len(report.refused),
                  "failed": len(report.failed)}
        if report.link_down:
            flash(_("Sent %(done)d, refused %(refused)d, failed %(failed)d; the library system "
                    "did not answer.", **counts), "error")
        else:
            flash(_("Sent %(done)d, refused %(refused)d, failed %(failed)d.", **counts), "ok")
    return redirect(url_for("ils_staff.overview"))


@bp.post("/reconcile")
@login_required
def reconcile_now():
    """Compare the shelves with the holds the ILS lists as waiting, now."""
    station = _station()
    link, status = attach(station), getattr(station, "holds", None)
    if link is None or status is None:
        flash(_("Reconciliation needs the station to read holds from the library system. "
                "IT can turn that on."), "error")
        return redirect(url_for("ils_staff.overview"))
    locations = list(station.settings.ils.pickup_locations) or [station.branch]
    report = reconcile.run(db.session, link, status, station.branch, locations)
    if report is None:
        flash(_("A reconciliation is running already; see its report in a moment."), "error")
    elif report.unreachable:
        flash(_("The library system did not answer; the report is incomplete."), "error")
    else:
        flash(ngettext("Shelves compared with the library system: %(num)d mismatch.",
                       "Shelves compared with the library system: %(num)d mismatches.",
                       len(report.mismatches)), "ok")
    return redirect(url_for("ils_staff.overview"))


@bp.post("/jobs/<int:job_id>/retry")
@login_required
def retry(job_id: int):
    job = queue.retry(db.session, job_id)
    if job is None:
        flash(_("Job %(id)d cannot be sent again.", id=job_id), "error")
    elif job.kind == queue.CHECKIN:
        flash(_("Check-in %(id)d is queued again.", id=job_id), "ok")
    else:
        flash(_("Checkout %(id)d is queued again.", id=job_id), "ok")
    return redirect(url_for("ils_staff.overview"))


def init_app(app: Flask) -> None:
    """Attach the ILS link to the station and register this staff page."""
    attach(app.extensions["station"])
    app.register_blueprint(bp)
    app.jinja_env.filters.setdefault("mask_card", mask)
    try:
        from kiosk.staff import register_nav
    except ImportError:
        return
    register_nav(app, "ils_staff.overview", N_("Library system"))
