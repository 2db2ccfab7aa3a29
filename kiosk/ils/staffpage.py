"""Staff page /staff/ils/: the ILS link's state, the checkout queue and what failed."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, url_for
from sqlalchemy import select

from kiosk.extensions import db
from kiosk.ils import attach, queue
from kiosk.models import CheckoutJob
from kiosk.staff.auth import login_required

bp = Blueprint("ils_staff", __name__, url_prefix="/staff/ils")


def _station():
    return current_app.extensions["station"]


@bp.get("/")
@login_required
def overview():
    station = _station()
    problems = db.session.scalars(
        select(CheckoutJob).where(CheckoutJob.state.in_([queue.REFUSED, queue.FAILED]))
        .order_by(CheckoutJob.id.desc()).limit(200)).all()
    recent = db.session.scalars(
        select(CheckoutJob).where(CheckoutJob.state == queue.DONE)
        .order_by(CheckoutJob.id.desc()).limit(20)).all()
    return render_template(
        "ils/queue.html", link=station.devices["ils"], configured=station.ils is not None,
        counts=queue.counts(db.session), queued=queue.pending(db.session, 200),
        problems=problems, recent=recent)


@bp.post("/replay")
@login_required
def replay_now():
    link = attach(_station())
    if link is None:
        flash("No library system is configured.", "error")
    else:
        report = queue.replay(db.session, link)
        flash(f"Lent {len(report.done)}, refused {len(report.refused)}, "
              f"failed {len(report.failed)}"
              + ("; the library system did not answer." if report.link_down else "."),
              "error" if report.link_down else "ok")
    return redirect(url_for("ils_staff.overview"))


@bp.post("/jobs/<int:job_id>/retry")
@login_required
def retry(job_id: int):
    if queue.retry(db.session, job_id) is None:
        flash(f"Checkout {job_id} cannot be retried.", "error")
    else:
        flash(f"Checkout {job_id} is queued again.", "ok")
    return redirect(url_for("ils_staff.overview"))


def init_app(app: Flask) -> None:
    """Attach the ILS link to the station and register this staff page."""
    attach(app.extensions["station"])
    app.register_blueprint(bp)
    try:
        from kiosk.staff import register_nav
    except ImportError:
        return
    register_nav(app, "ils_staff.overview", "Library system")
