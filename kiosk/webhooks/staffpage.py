"""Staff page /staff/webhooks (admins): receivers, failures with the receiver's answer, retry."""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from kiosk.extensions import db
from kiosk.staff import register_nav
from kiosk.staff.auth import admin_required
from kiosk.webhooks.delivery import retry as retry_delivery
from kiosk.webhooks.outbox import DELIVERED, FAILED, PENDING, WebhookDelivery

bp = Blueprint("webhooks", __name__, url_prefix="/staff/webhooks")
SHOWN = 100


@bp.get("/")
@admin_required
def overview():
    counts: dict[str, dict[str, int]] = {}
    for url in (ep.url for ep in current_app.extensions["webhooks"].endpoints):
        counts[url] = {PENDING: 0, DELIVERED: 0, FAILED: 0}
    for url, state, n in db.session.execute(
            select(WebhookDelivery.endpoint, WebhookDelivery.state, func.count())
            .group_by(WebhookDelivery.endpoint, WebhookDelivery.state)):
        counts.setdefault(url, {PENDING: 0, DELIVERED: 0, FAILED: 0})[state] = n
    W = WebhookDelivery
    problems = db.session.scalars(
        select(W).where(or_(W.state == FAILED, (W.state == PENDING) & (W.attempts > 0)))
        .order_by(W.id.desc()).limit(SHOWN)).all()
    waiting = db.session.scalars(select(W).where(W.state == PENDING, W.attempts == 0)
                                 .order_by(W.id).limit(SHOWN)).all()
    recent = db.session.scalars(select(W).where(W.state == DELIVERED)
                                .order_by(W.delivered_at.desc(), W.id.desc()).limit(SHOWN)).all()
    configured = {ep.url for ep in current_app.extensions["webhooks"].endpoints}
    return render_template("webhooks/overview.html", counts=counts, problems=problems,
                           waiting=waiting, recent=recent, configured=configured)


@bp.post("/<int:delivery_id>/retry")
@admin_required
def retry(delivery_id: int):
    if retry_delivery(db.session, delivery_id):
        db.session.commit()
        flash(_("Event %(id)d will be sent again now.", id=delivery_id), "ok")
    else:
        flash(_("Event %(id)d cannot be sent again.", id=delivery_id), "error")
    return redirect(url_for("webhooks.overview"))


def init_app(app: Flask) -> None:
    """Register the page and its link in the staff navigation (admins only)."""
    app.register_blueprint(bp)
    register_nav(app, "webhooks.overview", "Webhooks", admin=True)
