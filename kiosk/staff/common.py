"""Helpers shared by the staff pages: the station, answering form or fetch posts, orders."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, flash, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext, ngettext
from sqlalchemy import select

from kiosk import clock
from kiosk.domain import orders as order_ops
from kiosk.domain import shelving
from kiosk.domain.branches import branch_name
from kiosk.domain.clearance import effective_deadline
from kiosk.domain.messages import N_, StationError, sentences
from kiosk.extensions import db
from kiosk.models import Order, Shelf
from kiosk.station import Station

T = TypeVar("T")


def station() -> Station:
    """Return this app's station."""
    return current_app.extensions["station"]


def wants_json() -> bool:
    """Return True when the page's script (fetch) sent this request and expects JSON."""
    return (request.headers.get("X-Requested-With") == "fetch"
            or request.accept_mimetypes.best == "application/json")


def answer(message: str, *, ok: bool = True, to: str, status: int | None = None,
           **data: Any) -> ResponseReturnValue:
    """Answer a post: JSON for the page's script, else a flash message and a redirect."""
    if wants_json():
        go = data.pop("go", False)
        if go:  # the script follows the redirect: show the message on the next page too
            flash(message, "success" if ok else "error")
        body = {"ok": ok, "message": message, "redirect": to if go else None, **data}
        return jsonify(body), status or (200 if ok else 409)
    flash(message, "success" if ok else "error")
    return redirect(to, code=303)


# What staff read for each order status; the badge's CSS class keeps the code.
# "packed" is no status of its own: a bag being packed whose packing is done (see the badge).
STATUS_NAMES = {"received": N_("received"), "packing": N_("packing"), "packed": N_("packed"),
                "ready": N_("ready"), "collected": N_("collected"), "expired": N_("expired"),
                "cancelled": N_("cancelled")}
# Params of domain messages that hold an order status.
STATUS_PARAMS = ("status", "wanted")


def status_name(status: Any) -> str:
    """Return an order status in the page's language (an unknown one as it is)."""
    code = str(status)
    return gettext(STATUS_NAMES[code]) if code in STATUS_NAMES else code


def describe(exc: BaseException) -> str:
    """Return an error's message in the page's language.

    A domain error (StationError: OrderError, AccountError) is translated from its
    template and params, order statuses included; any other exception gives its own text.
    """
    problems = getattr(exc, "problems", None)
    if isinstance(exc, StationError) and problems:  # e.g. shelving refused, item by item
        return gettext(exc.template, problems=sentences(describe(p) for p in problems))
    if isinstance(exc, StationError):
        params = {k: status_name(v) if k in STATUS_PARAMS else v for k, v in exc.params.items()}
        if isinstance(exc.template, tuple):
            num = params.pop("num", 0)
            return ngettext(*exc.template, num, **params)
        return gettext(exc.template, **params)
    return str(exc)


def commit(work: Callable[[], T]) -> T:
    """Run a change and commit it, retrying on a busy database; roll back on any error."""
    return shelving.with_retry(db.session, work)


ALL_BRANCHES = "all"


def may_switch_branch() -> bool:
    """Return True when this request may work on other branches: an admin, or a desk."""
    from kiosk.staff.auth import is_admin

    return station().settings.station.role == "desk" or is_admin()


def branch_scope(anyone: bool = False) -> str | None:
    """Return the branch this request works on, decided once: the station's own, or the
    one staff chose with ?branch=NAME (None for ?branch=all, every branch).

    Only an admin or a desk station may choose (anyone: every user, as on the orders
    search); an unknown branch is a 404 naming it.
    """
    own = station().branch
    wanted = request.args.get("branch", "").strip()[:64]
    if not wanted or wanted == own:
        return own
    if not (anyone or may_switch_branch()):
        abort(403, gettext("Only an admin or a desk station can work on another branch."))
    if wanted == ALL_BRANCHES:
        return None
    if wanted not in station().known_branches(db.session):
        abort(404, gettext("There is no branch %(branch)s.", branch=wanted))
    return wanted


def branches_with_walls() -> list[str]:
    """Return the branches to offer: configured, this one, and those with shelves (cheap)."""
    st = station()
    walls = db.session.scalars(select(Shelf.branch).distinct())
    return sorted({*st.settings.station.branches, st.branch, *walls})


def branch_choice(scope: str | None, anyone: bool = False) -> dict[str, Any]:
    """Return what a page's branch switch shows: the branch in use and the ones to offer."""
    own = station().branch
    return {"current": ALL_BRANCHES if scope is None else scope, "own": own,
            "may_switch": anyone or may_switch_branch(), "all": ALL_BRANCHES,
            "options": [(b, branch_name(b)) for b in branches_with_walls()],
            "name": gettext("all branches") if scope is None else branch_name(scope)}


def get_order(order_id: int, any_branch: bool = False) -> Order:
    """Return an order of this station's branch (or of any, if asked) or raise NotFound."""
    order = order_ops.get(db.session, order_id)
    if order.branch != station().branch and not any_branch:
        raise order_ops.NotFound(N_("No order %(order)s at this branch"), order=order_id)
    return order


def days_since(when: dt.datetime | None) -> int | None:
    """Return whole days from when to now, or None."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (clock.now() - when).days


def deadline_state(order: Order, today: dt.date | None = None) -> str:
    """Return "expired", "today" or "ok" for an order's last day (as clearance counts it)."""
    last = effective_deadline(order, station().calendar)
    if last is None:
        return "ok"
    today = today or clock.today()
    if last < today:
        return "expired"
    return "today" if last == today else "ok"
