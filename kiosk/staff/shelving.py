"""Shelving: scan the bag label, then a slot label (or take the suggestion); the shelf map.

With holds kept in the ILS (`[ils] holds_from_ils`), an item barcode scanned in place
of a bag label starts an item bag (kiosk.ils.item_bags): more items may follow
before the slot label.
"""

from __future__ import annotations

from flask import render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from kiosk.domain import orders as order_ops
from kiosk.domain import pickup_codes
from kiosk.domain import shelving as shelf_ops
from kiosk.domain.branches import branch_name
from kiosk.extensions import db
from kiosk.ils import item_bags
from kiosk.ils.holds import holds_mode
from kiosk.models import Order, OrderStatus
from kiosk.staff import bp
from kiosk.staff.auth import actor
from kiosk.staff.common import (
    answer,
    commit,
    describe,
    get_order,
    station,
    wants_json,
)
from kiosk.staff.forms import ActionForm, ScanForm, SlotForm

SHELVABLE = (OrderStatus.RECEIVED, OrderStatus.PACKING, OrderStatus.READY)


class ItemOrSlotForm(FlaskForm):
    """The slot label or, for an item bag, one more item barcode."""

    slot = StringField(_l("Slot label or item barcode"),
                       validators=[DataRequired(), Length(max=64)])


def _find_bag(raw: str) -> Order | None:
    """Return the open order with this pickup code, of any branch."""
    return order_ops.by_pickup_code(db.session, raw)


def _other_branch(order: Order, back: str):
    """Refuse a bag of another branch at its first scan, naming its branch in large type."""
    name = branch_name(order.branch)
    message = _("Belongs to %(branch)s: put the bag in the transit crate.", branch=name)
    if wants_json():
        return answer(message, ok=False, to=back, status=409, branch=order.branch,
                      belongs_to=name)
    return render_template("staff/shelving/scan_bag.html", form=ScanForm(), by_item=_by_item(),
                           belongs_to=name, message=message), 409


def _by_item() -> bool:
    return holds_mode(station().settings)


@bp.get("/shelving")
def shelving():
    return render_template("staff/shelving/scan_bag.html", form=ScanForm(), by_item=_by_item())


@bp.post("/shelving")
def scan_bag():
    """Open the bag whose label was scanned, ready for its slot label."""
    form = ScanForm()
    back = url_for("staff.shelving")
    raw = (form.code.data or "").strip() if form.validate() else ""
    order = _find_bag(raw) if raw else None
    if order is None and raw and _by_item() and pickup_codes.parse_code(raw) is None:
        return _scan_item(raw, back)
    if order is None:
        return answer(_("No open order with pickup code %(code)s.", code=raw[:32] or "-"),
                      ok=False, to=back, status=404)
    if order.branch != station().branch:
        return _other_branch(order, back)
    if order.packed_at is None and order.status != OrderStatus.READY:
        # Refused now, not after the slot scan: the bag goes back to packing as it is.
        return answer(_("Order %(code)s is not packed yet. Finish packing first.",
                        code=order.pickup_code), ok=False, to=back, status=409,
                      packing=url_for("staff.packing", order_id=order.id))
    return answer(_("Bag %(code)s: now scan the slot label.", code=order.pickup_code),
                  to=url_for("staff.shelve_order", order_id=order.id), go=True)


def _scan_item(raw: str, back: str):
    """Open the bag holding the scanned item, or start an item bag with it."""
    barcode = item_bags.parse_item(raw)
    if barcode is None:
        return answer(_("Neither a pickup code nor an item barcode: %(code)s.",
                        code=raw[:32]), ok=False, to=back, status=400)
    branch = station().branch
    bag = item_bags.bag_with_item(db.session, barcode, branch)
    if bag is not None:
        return answer(_("Item %(item)s is in bag %(code)s.", item=barcode, code=bag.pickup_code),
                      to=url_for("staff.shelve_order", order_id=bag.id), go=True)
    try:
        order = commit(lambda: item_bags.start(db.session, barcode, branch, actor()))
    except order_ops.OrderError as exc:
        return answer(describe(exc), ok=False, to=back, status=exc.status_code)
    return answer(_("Item %(item)s is in a new bag %(code)s: scan more items, then the slot "
                    "label.", item=barcode, code=order.pickup_code),
                  to=url_for("staff.shelve_order", order_id=order.id), go=True)


def _add_item(order: Order, barcode: str, here: str):
    """Put one more scanned item into an item bag."""
    try:
        commit(lambda: item_bags.add(db.session, order, barcode, actor()))
    except order_ops.OrderError as exc:
        return answer(describe(exc), ok=False, to=here, status=exc.status_code)
    return answer(_("Item %(item)s added to bag %(code)s (%(n)d items): scan more items or "
                    "the slot label.", item=barcode, code=order.pickup_code,
                    n=len(order.items)), to=here, go=True, items=len(order.items))


@bp.get("/shelving/<int:order_id>")
def shelve_order(order_id: int):
    order = get_order(order_id)
    by_item = item_bags.is_item_bag(order)
    suggested = (shelf_ops.suggest_slot(db.session, order, station().branch)
                 if order.status in SHELVABLE else None)
    form = ItemOrSlotForm() if by_item else SlotForm()
    return render_template("staff/shelving/scan_slot.html", order=order, form=form,
                           suggested=suggested, action_form=ActionForm(), by_item=by_item)


@bp.post("/shelving/<int:order_id>")
def put_on_slot(order_id: int):
    """Put the bag on the scanned (or suggested) slot; also moves a bag already shelved."""
    order = get_order(order_id)
    by_item = item_bags.is_item_bag(order)
    form = ItemOrSlotForm() if by_item else SlotForm()
    here = url_for("staff.shelve_order", order_id=order.id)
    if not form.validate():
        return answer(_("Scan a slot label."), ok=False, to=here, status=400)
    label = form.slot.data.strip()
    if order.packed_at is None and order.status != OrderStatus.READY:
        return answer(_("Order %(code)s is not packed yet. Finish packing first.",
                        code=order.pickup_code), ok=False, to=here)
    try:
        try:
            slot = shelf_ops.get_slot(db.session, label, station().branch)
        except order_ops.NotFound:
            if order_ops.by_pickup_code(db.session, label) is None:
                barcode = item_bags.parse_item(label) if by_item else None
                if barcode is not None:
                    return _add_item(order, barcode, here)
                raise
            return answer(_("That is a bag label. Scan the slot label on the shelf."),
                          ok=False, to=here, status=400)
        settings = station().settings
        was_on = order.slot_label
        notes = []
        if shelf_ops.could_shelve(db.session, order, slot):  # e.g. the ILS check-in
            notes = station().before_shelving(db.session, order, actor())

        def work() -> None:
            shelf_ops.shelve(db.session, order, slot, actor(), station().calendar,
                             settings.pickup.days_on_shelf)

        commit(work)
    except order_ops.OrderError as exc:
        return answer(describe(exc), ok=False, to=here, status=exc.status_code)
    if was_on and was_on != order.slot_label:
        message = _("Bag %(code)s moved from %(old)s to %(slot)s.", code=order.pickup_code,
                    old=was_on, slot=order.slot_label)
    else:
        message = _("Bag %(code)s is on %(slot)s.", code=order.pickup_code,
                    slot=order.slot_label)
    message = " ".join([message, *(describe(n) for n in notes)])
    return answer(message, to=url_for("staff.shelving"), go=True, slot=order.slot_label)


@bp.post("/orders/<int:order_id>/unshelve")
def unshelve(order_id: int):
    order = get_order(order_id)
    ActionForm()
    here = url_for("staff.order_detail", order_id=order.id)
    try:
        slot = order.slot_label
        commit(lambda: shelf_ops.unshelve(db.session, order, actor()))
    except order_ops.OrderError as exc:
        return answer(describe(exc), ok=False, to=here, status=exc.status_code)
    return answer(_("Bag %(code)s taken off %(slot)s.", code=order.pickup_code, slot=slot),
                  to=here)
