"""Orders: the list, one order with its audit trail, a new order by hand, collect, cancel."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from kiosk.domain import orders as order_ops
from kiosk.domain import pickup_codes
from kiosk.domain.messages import N_
from kiosk.extensions import db
from kiosk.ils import attach
from kiosk.ils.lending import collect_with_checkout
from kiosk.models import Order, OrderStatus
from kiosk.staff import bp
from kiosk.staff.auth import actor
from kiosk.staff.common import answer, commit, deadline_state, describe, get_order, station
from kiosk.staff.forms import ActionForm, NewOrderForm, ScanForm, SlotForm

PAGE = 50


@bp.get("/orders")
def orders():
    status = request.args.get("status", "")
    query_text = request.args.get("q", "").strip()[:64]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    query = select(Order).where(Order.branch == station().branch)
    if status in {s.value for s in OrderStatus}:
        query = query.where(Order.status == status)
    if query_text:
        code = pickup_codes.parse_code(query_text)
        card = station().cards.card(query_text)
        query = query.where(or_(Order.ref == query_text,
                                Order.pickup_code == (code or query_text),
                                Order.card == (card or query_text)))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Order.id.desc())
                              .limit(PAGE).offset((page - 1) * PAGE)).all()
    return render_template("staff/orders/list.html", orders=rows, total=total, page=page,
                           pages=max((total + PAGE - 1) // PAGE, 1), status=status,
                           q=query_text, statuses=[s.value for s in OrderStatus])


@bp.get("/orders/<int:order_id>")
def order_detail(order_id: int):
    order = get_order(order_id)
    return render_template("staff/orders/detail.html", order=order, form=ActionForm(),
                           slot_form=SlotForm(), state=deadline_state(order),
                           missing=order_ops.missing_items(order))


def _parse_items(text: str) -> list[order_ops.NewItem]:
    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        barcode, _sep, title = line.replace("\t", ";").partition(";")
        if not barcode.strip() or len(barcode.strip()) > 64:
            raise order_ops.OrderError(N_("bad item line: %(line)r"), line=line[:80])
        items.append(order_ops.NewItem(barcode.strip(), title.strip()[:500] or None))
    return items


@bp.route("/orders/new", methods=["GET", "POST"])
def new_order():
    form = NewOrderForm()
    status = 200
    if form.validate_on_submit():
        card = station().cards.card(form.card.data)
        try:
            if card is None:
                raise order_ops.OrderError(N_("That is not a valid patron card number."))
            new = order_ops.NewOrder(card=card, items=tuple(_parse_items(form.items.data)),
                                     branch=station().branch, ref=form.ref.data or None,
                                     patron_name=form.patron_name.data or None)
            order = commit(lambda: order_ops.create_order(db.session, new, actor(), "staff"))
        except order_ops.OrderError as exc:
            form.items.errors = [*form.items.errors, describe(exc)]
            status = 422
        else:
            return answer(_("Order %(code)s created.", code=order.pickup_code),
                          to=url_for("staff.order_detail", order_id=order.id))
    elif request.method == "POST":
        status = 400
    return render_template("staff/orders/new.html", form=form), status


@bp.post("/orders/<int:order_id>/collect")
def collect(order_id: int):
    order = get_order(order_id)
    ActionForm()
    here = url_for("staff.order_detail", order_id=order.id)
    if order.status != OrderStatus.READY:
        return answer(_("Order %(code)s is %(status)s and cannot be collected.",
                        code=order.pickup_code, status=order.status), ok=False, to=here)
    refused = _collect(order)
    if refused:
        return answer(refused, ok=False, to=here)
    return answer(_("Order %(code)s collected.", code=order.pickup_code), to=here)


@bp.post("/orders/<int:order_id>/cancel")
def cancel(order_id: int):
    order = get_order(order_id)
    ActionForm()
    here = url_for("staff.order_detail", order_id=order.id)
    try:
        commit(lambda: order_ops.cancel(db.session, order, actor(), "cancelled by staff"))
    except order_ops.OrderError as exc:
        return answer(describe(exc), ok=False, to=here, status=exc.status_code)
    return answer(_("Order %(code)s cancelled.", code=order.pickup_code), to=here)


@bp.get("/collect")
def collect_scan_page():
    return render_template("staff/orders/collect.html", form=ScanForm())


@bp.post("/collect")
def collect_by_scan():
    """Mark the order on the scanned bag label collected (the patron has it)."""
    form = ScanForm()
    back = url_for("staff.collect_scan_page")
    raw = (form.code.data or "").strip() if form.validate() else ""
    order = order_ops.by_pickup_code(db.session, raw) if raw else None
    if order is None or order.branch != station().branch:
        return answer(_("No open order with pickup code %(code)s.", code=raw[:32] or "-"),
                      ok=False, to=back, status=404)
    if order.status != OrderStatus.READY:
        return answer(_("Order %(code)s is %(status)s, not on a shelf: not collected.",
                        code=order.pickup_code, status=order.status), ok=False, to=back)
    slot = order.slot_label
    refused = _collect(order)
    if refused:
        return answer(refused, ok=False, to=back)
    return answer(_("Order %(code)s collected; slot %(slot)s freed.", code=order.pickup_code,
                    slot=slot), to=back)


def _collect(order: Order) -> str | None:
    """Collect a bag handed over at the desk, lending its items as the kiosk does.

    With an ILS link and `checkout_on_collect`, each item is checked out to the order's
    card first (queued when the ILS is down); returns a message if the ILS refused some.
    """
    st = station()
    link = attach(st) if st.settings.ils.checkout_on_collect and order.card else None
    outcome = collect_with_checkout(db.session, order, order.card or "", link, actor(),
                                    detail="staff scan")
    if not outcome.refused:
        return None
    return _("The library system refused %(items)s; the order stays on its slot.",
             items=", ".join(f"{i.barcode} ({i.message or '-'})" for i in outcome.refused))
