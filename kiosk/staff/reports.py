"""Staff pages for shelf labels, clearance and statistics (under /staff, login required)."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Flask, Response, abort, render_template, request, url_for
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _

from kiosk import clock
from kiosk.domain import clearance
from kiosk.domain import labels as label_sheet
from kiosk.domain import stats as stats_ops
from kiosk.domain.branches import branch_name
from kiosk.domain.messages import N_
from kiosk.domain.orders import NotFound, OrderError
from kiosk.extensions import db
from kiosk.models import Shelf
from kiosk.staff.auth import actor, login_required
from kiosk.staff.common import (
    answer,
    branch_choice,
    branch_scope,
    commit,
    describe,
    may_switch_branch,
    station,
    wants_json,
)
from kiosk.staff.forms import ScanForm
from kiosk.webpolicy import printable_document

bp = Blueprint("staff_reports", __name__, url_prefix="/staff")

DEFAULT_DAYS = 28
SLOT_BARS = 200  # more slots than this: the use chart shows shelves
# Shown in the staff navigation; base.html translates the label.
NAV = (("staff_reports.clearance", N_("Clearance")),
       ("staff_reports.statistics", N_("Statistics")), ("staff_reports.labels", N_("Slot labels")))


# --- slot labels ------------------------------------------------------------------------

@bp.get("/labels")
@login_required
def labels():
    branch = station().branch if branch_scope() is None else branch_scope()
    shelves = db.session.scalars(db.select(Shelf.name).where(Shelf.branch == branch)
                                 .order_by(Shelf.position)).all()
    return render_template("staff/reports/labels.html", shelves=shelves,
                           count=len(label_sheet.slot_labels(db.session, None, branch)),
                           branch=branch, branch_choice=branch_choice(branch))


@bp.get("/labels/sheet")
@login_required
def label_sheet_file():
    """Return the printable sheet (html, svg or pdf) of every slot, or one shelf's."""
    fmt = request.args.get("format", "html")
    if fmt not in label_sheet.MEDIA_TYPES:
        abort(400, _("Choose a format: html, svg or pdf."))
    shelf = request.args.get("shelf") or None
    branch = station().branch if branch_scope() is None else branch_scope()  # one wall
    try:
        texts = label_sheet.slot_labels(db.session, shelf, branch)
    except NotFound:
        abort(404, _("There is no shelf %(shelf)s.", shelf=shelf[:8]))
    # the sheet names its branch: shelf "A" hangs at every branch
    title = _("%(station)s: slot labels", station=f"{branch_name(branch)} ({station().name})")
    pages = -(-len(texts) // label_sheet.PER_PAGE)
    hint = _("%(labels)s on %(pages)s. Print at 100%% without margins on a 3 × 8 label sheet "
             "(70 × 37 mm).",
             labels=ngettext("%(num)d label", "%(num)d labels", len(texts)),
             pages=ngettext("%(num)d A4 page", "%(num)d A4 pages", pages))
    body = label_sheet.render(texts, fmt, title, hint)
    name = f"slot-labels{'-' + shelf.upper() if shelf else ''}.{fmt}"
    response = Response(body, mimetype=label_sheet.MEDIA_TYPES[fmt],
                        headers={"Content-Disposition": f'inline; filename="{name}"'})
    return printable_document(response)


# --- clearance --------------------------------------------------------------------------

@bp.get("/clearance", endpoint="clearance")
@login_required
def clearance_page():
    return _clearance_page(ScanForm())


def _holds():
    """Return the station's holds-mode status (last reconciliation), or None."""
    return getattr(station(), "holds", None)


def _not_waiting() -> list[str]:
    """Return the items the last reconciliation found no longer waiting in the ILS."""
    holds = _holds()
    return holds.not_waiting() if holds is not None else []


def _clearance_page(form: ScanForm, error: str | None = None, status: int = 200):
    cal = station().calendar
    scope = branch_scope()
    listing = clearance.clearance_list(db.session, cal, branch=scope)
    holds = _holds()
    report = holds.last_report if holds is not None else None
    not_waiting = clearance.no_longer_waiting(db.session, _not_waiting(), scope)
    return render_template("staff/reports/clearance.html", listing=listing, form=form,
                           error=error, holds=holds, report=report, not_waiting=not_waiting,
                           branch_choice=branch_choice(scope),
                           deadline=lambda o: clearance.effective_deadline(o, cal)), status


@bp.post("/clearance")
@login_required
def clear_bag():
    """Take the scanned bag off the shelf as not collected; refuse a wrong scan loudly."""
    form = ScanForm()
    here = url_for("staff_reports.clearance")
    if not form.validate():
        return _refuse(form, _("Scan the pickup code on the bag label."), 400)
    scanned = form.code.data.strip()
    cal = station().calendar
    try:
        gone = set(_not_waiting())
        scope = branch_scope()
        order = commit(lambda: clearance.clear_bag(db.session, scanned, actor(), cal,
                                                   not_waiting=gone, branch=scope))
    except OrderError as exc:
        return _refuse(form, _refusal(exc, scanned), exc.status_code)
    message = _("Bag %(code)s cleared from %(slot)s: take it off the shelf.",
                code=order.pickup_code, slot=order.slot_label)
    # A scanning page reloads to show the shorter list; answer() takes the message along.
    return answer(message, to=here, go=True, slot=order.slot_label)


def _refusal(exc: OrderError, scanned: str) -> str:
    """Return the staff-facing message for a refused clearance scan."""
    detail = exc.detail if isinstance(exc.detail, dict) else {}
    kind, code = detail.get("kind"), detail.get("pickup_code", scanned[:32])
    if kind == "not_a_pickup_code":
        return _("WRONG CODE: %(scanned)s is not a pickup code. Scan the bag label.",
                 scanned=scanned[:32])
    if kind == "unknown_code":
        return _("UNKNOWN BAG: no bag with pickup code %(code)s is on the shelf.", code=code)
    if kind == "already_cleared":
        return _("Bag %(code)s was already cleared.", code=code)
    if kind == "other_branch":
        return _("Belongs to %(branch)s: put the bag in the transit crate.",
                 branch=branch_name(detail["branch"]))
    if kind == "not_expired":
        return _("NOT EXPIRED: bag %(code)s may wait until %(day)s. Put it back on %(slot)s.",
                 code=code, day=detail["deadline"], slot=detail["slot"])
    return _("Refused: %(reason)s", reason=describe(exc))


def _refuse(form: ScanForm, message: str, status: int):
    if wants_json():
        return answer(message, ok=False, to=url_for("staff_reports.clearance"), status=status)
    return _clearance_page(form, message, status)


# --- statistics -------------------------------------------------------------------------

def _period() -> tuple[dt.date, dt.date]:
    """Return the period asked for (?start=&end=, ISO dates), by default the last 28 days."""
    today = clock.today()
    try:
        end = dt.date.fromisoformat(request.args.get("end") or today.isoformat())
        start = dt.date.fromisoformat(
            request.args.get("start") or (end - dt.timedelta(days=DEFAULT_DAYS - 1)).isoformat())
    except ValueError:
        abort(400, _("Bad period: give the days as dates such as 2025-04-01."))
    try:
        stats_ops.check_period(start, end)
    except stats_ops.BadPeriod as exc:
        abort(400, _("Bad period: %(problem)s.", problem=describe(exc)))
    return start, end


@bp.get("/stats")
@login_required
def statistics():
    start, end = _period()
    scope = branch_scope()
    rep = stats_ops.report(db.session, start, end, branch=scope)
    compare = (stats_ops.branch_totals(db.session, start, end) if may_switch_branch()
               else None)  # how the branches compare, for those who may look at them
    return render_template("staff/reports/stats.html", rep=rep, charts=_charts(rep),
                           branch_choice=branch_choice(scope), branch_name=branch_name,
                           compare=compare,
                           median_hours=_hours(rep.median_to_collect), kinds=_kind_names(),
                           week_name=_week_name)


def _hours(delta: dt.timedelta | None) -> str | None:
    """Return a duration in hours with one decimal, as the page's language writes it."""
    value = stats_ops.hours(delta)
    return None if value is None else _("%(h)s h", h=format_decimal(value, "#,##0.0"))


def _kind_names() -> dict[str, str]:
    """Return what the charts' legends and the tables' headers call each count."""
    return {"ready": _("put on the shelf"), "collected": _("collected"),
            "expired": _("not collected")}


def _week_name(bucket: stats_ops.Bucket, with_year: bool = False) -> str:
    """Return an ISO week in words ("week 45"), with its year when asked."""
    year, week, _day = bucket.start.isocalendar()
    if with_year:
        return _("Week %(week)d, %(year)d", week=week, year=year)
    return _("week %(week)d", week=week)


def _charts(rep: stats_ops.Report) -> list[dict]:
    """Return what the bar charts show: per day, per ISO week, per slot."""
    def kinds(buckets: list[stats_ops.Bucket]) -> list[tuple[str, str, list[int]]]:
        names = _kind_names()
        return [(names[k], k, [getattr(b, k) for b in buckets]) for k in stats_ops.KINDS]

    return [
        {"heading": _("Per day"), "title": _("Bags per day"),
         "names": [d.start.strftime("%d.%m") for d in rep.days], "series": kinds(rep.days)},
        {"heading": _("Per ISO week"), "title": _("Bags per week"),
         "names": [_week_name(w) for w in rep.weeks], "series": kinds(rep.weeks)},
        _use_chart(rep.slots),
    ]


def _use_chart(slots: list[stats_ops.SlotUse]) -> dict:
    """Return the chart of bags per slot, or per shelf when slots are too many for bars."""
    if len(slots) <= SLOT_BARS:
        heading, title, names = _("Slot use"), _("Bags per slot"), [s.label for s in slots]
        now, shelved = [s.now for s in slots], [s.shelved for s in slots]
    else:  # a big station: one bar per shelf; the CSV by slot keeps every slot
        per: dict[str, list[int]] = {}
        for s in slots:
            sums = per.setdefault(s.label.rsplit("-", 1)[0], [0, 0])
            sums[0] += s.now
            sums[1] += s.shelved
        heading, title, names = _("Shelf use"), _("Bags per shelf"), list(per)
        now, shelved = [v[0] for v in per.values()], [v[1] for v in per.values()]
    return {"heading": heading, "title": title, "names": names,
            "series": [(_("on the shelf now"), "now", now),
                       (_("put there in the period"), "ready", shelved)]}


@bp.get("/stats.csv")
@login_required
def statistics_csv():
    """Return the statistics as CSV: ?by=day (default), week or slot."""
    by = request.args.get("by", "day")
    if by not in ("day", "week", "slot"):
        abort(400, _("The by parameter must be day, week or slot."))
    start, end = _period()
    body = stats_ops.to_csv(stats_ops.report(db.session, start, end, branch=branch_scope()),
                            by)
    name = f"pickup-{by}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def init_app(app: Flask) -> None:
    """Register the reports pages and their links in the staff navigation."""
    from kiosk.staff import register_nav

    app.register_blueprint(bp)
    for endpoint, label in NAV:
        register_nav(app, endpoint, label)
