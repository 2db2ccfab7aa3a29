"""Packing: the pick list, opening an order by scan, scanning items, the bag label."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from kiosk import barcodes
from kiosk.domain import orders as order_ops
from kiosk.domain.branches import branch_name
from kiosk.extensions import db
from kiosk.localtime import local
from kiosk.models import Item, Order, OrderStatus, utcnow
from kiosk.staff import bp
from kiosk.staff.auth import actor
from kiosk.staff.common import (
    answer,
    branch_choice,
    branch_scope,
    commit,
    describe,
    get_order,
    may_switch_branch,
    station,
    status_name,
)
from kiosk.staff.forms import ActionForm, PackForm, ScanForm

TO_PACK = (OrderStatus.RECEIVED, OrderStatus.PACKING)
PAGE = 100  # orders on one page of the pick list


def walk_key(order: Order) -> tuple[str, int]:
    """Return the pick-list sort key: one walk through the library.

    Call numbers are not in the order data, so the first item's barcode stands in for
    the shelf position of the items (the same key `walk_page` sorts by in SQL).
    """
    return (min((i.barcode for i in order.items), default=""), order.id)


def _waiting(branch: str | None, card: str | None = None):
    """Return the query of orders waiting to be packed (at branch, or every branch)."""
    query = select(Order.id).where(Order.status.in_([s.value for s in TO_PACK]),
                                   Order.packed_at.is_(None))
    if branch is not None:
        query = query.where(Order.branch == branch)
    return query.where(Order.card == card) if card else query


def walk_page(branch: str | None, card: str | None = None, page: int = 1,
              per_page: int = PAGE) -> list[int]:
    """Return one page of the ids of orders waiting to be packed, in walking order.

    The database sorts and pages (first barcode per order from the (order, barcode)
    index): a page of 100 out of 90,000 waiting orders reads 100 orders, not 90,000.
    """
    waiting = _waiting(branch, card).subquery()
    first = (select(func.min(Item.barcode)).where(Item.order_id == waiting.c.id)
             .scalar_subquery())
    ids = db.session.scalars(select(waiting.c.id).order_by(func.coalesce(first, ""),
                                                           waiting.c.id)
                             .limit(per_page).offset((page - 1) * per_page)).all()
    return list(ids)


def load_in_order(ids: list[int]) -> list[Order]:
    """Return the orders of ids with their items, in the order of ids."""
    found = {o.id: o for o in db.session.scalars(
        select(Order).options(selectinload(Order.items)).where(Order.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def orders_to_pack(branch: str | None, card: str) -> list[Order]:
    """Return one card's orders waiting to be packed (at branch), in walking order."""
    return load_in_order(walk_page(branch, card))


@bp.get("/packing")
def pick_list():
    scope = branch_scope()
    card = station().cards.card(request.args.get("card", ""))
    total = db.session.scalar(select(func.count()).select_from(
        _waiting(scope, card).subquery()))
    pages = max((total + PAGE - 1) // PAGE, 1)
    page = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    ids = walk_page(scope, card, page, PAGE)
    return render_template("staff/packing/list.html", orders=load_in_order(ids),
                           form=ScanForm(), card=card, page=page, pages=pages, total=total,
                           branch_choice=branch_choice(scope), scope=scope)


@bp.post("/packing/open")
def open_for_packing():
    """Open the order whose pickup code, bag label or patron card was scanned."""
    form = ScanForm()
    raw = (form.code.data or "").strip()
    back = url_for("staff.pick_list")
    if not form.validate():
        return answer(_("Scan a pickup code or a patron card."), ok=False, to=back, status=400)
    scope = branch_scope()
    order = order_ops.by_pickup_code(db.session, raw)
    if order is not None and (scope is None or order.branch == scope):
        return answer(_("Order %(code)s opened.", code=order.pickup_code),
                      to=url_for("staff.packing", order_id=order.id), go=True)
    card = station().cards.card(raw)
    if card:
        found = orders_to_pack(scope, card)
        if len(found) == 1:
            return answer(_("Order %(code)s opened.", code=found[0].pickup_code),
                          to=url_for("staff.packing", order_id=found[0].id), go=True)
        if found:
            return answer(_("This card has %(n)d orders to pack.", n=len(found)),
                          to=url_for("staff.pick_list", card=card,
                                     branch=request.args.get("branch")), go=True)
        return answer(_("This card has no order to pack here."), ok=False, to=back, status=404)
    return answer(_("No open order with pickup code %(code)s.", code=raw[:32]), ok=False,
                  to=back, status=404)


@bp.get("/packing/<int:order_id>")
def packing(order_id: int):
    order = get_order(order_id, any_branch=may_switch_branch())
    return render_template("staff/packing/order.html", order=order, form=ScanForm(),
                           pack_form=PackForm(), missing=order_ops.missing_items(order),
                           action_form=ActionForm(), printer=station().printer is not None)


@bp.post("/packing/<int:order_id>/item")
def pack_item(order_id: int):
    """Scan one item into the bag; a wrong or repeated item is refused loudly."""
    order = get_order(order_id, any_branch=may_switch_branch())
    form = ScanForm()
    here = url_for("staff.packing", order_id=order.id)
    if not form.validate():
        return answer(_("Scan an item barcode."), ok=False, to=here, status=400)
    barcode = form.code.data.strip()
    try:
        item = commit(lambda: order_ops.pack_item(db.session, order, barcode, actor()))
    except order_ops.OrderError as exc:
        kind = (exc.detail or {}).get("kind") if isinstance(exc.detail, dict) else None
        if kind == "wrong_item":
            message = _("WRONG ITEM: %(barcode)s is not part of order %(code)s!",
                        barcode=barcode[:64], code=order.pickup_code)
        elif kind == "duplicate_item":
            message = _("ALREADY PACKED: %(barcode)s is in the bag already!",
                        barcode=barcode[:64])
        else:
            message = describe(exc)
        return answer(message, ok=False, to=here, kind=kind, barcode=barcode[:64])
    left = len(order_ops.missing_items(order))
    return answer(_("%(barcode)s packed; %(left)d left.", barcode=item.barcode, left=left),
                  to=here, barcode=item.barcode, left=left, order_status=order.status,
                  status_name=status_name(order.status))


@bp.post("/packing/<int:order_id>/packed")
def finish_packing(order_id: int):
    """Mark the bag packed; missing items need a reason."""
    order = get_order(order_id, any_branch=may_switch_branch())
    form = PackForm()
    here = url_for("staff.packing", order_id=order.id)
    reason = (form.override_reason.data or "").strip() if form.validate() else ""
    try:
        commit(lambda: order_ops.finish_packing(db.session, order, actor(), reason or None))
    except order_ops.OrderError as exc:
        missing = (exc.detail or {}).get("missing") if isinstance(exc.detail, dict) else None
        if missing:
            message = ngettext(
                "Not packed: %(num)d item missing (%(items)s). Scan it, or give a reason to "
                "pack without it.",
                "Not packed: %(num)d items missing (%(items)s). Scan them, or give a reason "
                "to pack without them.", len(missing), items=", ".join(missing))
        else:
            message = describe(exc)
        kind = exc.detail.get("kind") if isinstance(exc.detail, dict) else None
        return answer(message, ok=False, to=here, missing=missing, kind=kind,
                      status=exc.status_code)
    return answer(_("Order %(code)s is packed. Print the bag label, then shelve it.",
                    code=order.pickup_code),
                  to=here, go=True)


@bp.get("/orders/<int:order_id>/label")
def bag_label(order_id: int):
    """Show the bag label, sized for a 62 mm label printer."""
    order = get_order(order_id, any_branch=may_switch_branch())
    return render_template(
        "staff/packing/label.html", order=order, form=ActionForm(),
        destination=branch_name(order.branch),
        code128=Markup(barcodes.code128_svg(order.pickup_code)),  # noqa: S704 (our own SVG)
        qr=Markup(barcodes.qr_svg(order.pickup_code)))  # noqa: S704


@bp.post("/orders/<int:order_id>/label/print")
def print_bag_label(order_id: int):
    """Print the bag label on the station's ESC/POS printer (pickup code and Code 128)."""
    from kiosk.devices.slip import Slip, SlipLine

    order = get_order(order_id, any_branch=may_switch_branch())
    ActionForm()
    here = url_for("staff.packing", order_id=order.id)
    printer = station().printer
    if printer is None:
        return answer(_("No receipt printer is configured; print the label page instead."),
                      ok=False, to=here)
    # The destination branch on the bag: a desk packing for every branch sends it there.
    slip = Slip(station=f"{station().name} → {branch_name(order.branch)}",
                printed_at=local(utcnow()),  # the wall clock's time
                language=station().settings.station.language,
                lines=[SlipLine(order.pickup_code, order.slot_label or "–", len(order.items),
                                order.deadline)])
    try:
        result = printer.submit(slip).result(timeout=printer.timeout_s * 2 + 1)
    except TimeoutError:
        return answer(_("The printer did not answer."), ok=False, to=here, status=503)
    if not result.ok:
        return answer(_("Not printed: %(why)s", why=result.detail), ok=False, to=here,
                      status=503)
    return answer(_("Bag label for %(code)s printed.", code=order.pickup_code), to=here)
