"""Shelving: scan the bag label, then a slot label (or take the suggestion); the shelf map."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from flask import render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from kiosk.domain import orders as order_ops
from kiosk.domain import shelving as shelf_ops
from kiosk.extensions import db
from kiosk.models import Order, OrderStatus, Place, Shelf, Slot
from kiosk.staff import bp
from kiosk.staff.auth import actor
from kiosk.staff.common import answer, commit, days_since, deadline_state, get_order, station
from kiosk.staff.forms import ActionForm, ScanForm, SlotForm

SHELVABLE = (OrderStatus.RECEIVED, OrderStatus.PACKING, OrderStatus.READY)


def _find_bag(raw: str) -> Order | None:
    order = order_ops.by_pickup_code(db.session, raw)
    return order if order is not None and order.branch == station().branch else None


@bp.get("/shelving")
def shelving():
    return render_template("staff/shelving/scan_bag.html", form=ScanForm())


@bp.post("/shelving")
def scan_bag():
    """Open the bag whose label was scanned, ready for its slot label."""
    form = ScanForm()
    back = url_for("staff.shelving")
    raw = (form.code.data or "").strip() if form.validate() else ""
    order = _find_bag(raw) if raw else None
    if order is None:
        return answer(_("No open order with pickup code %(code)s.", code=raw[:32] or "-"),
                      ok=False, to=back, status=404)
    return answer(_("Bag %(code)s: now scan the slot label.", code=order.pickup_code),
                  to=url_for("staff.shelve_order", order_id=order.id), go=True)


@bp.get("/shelving/<int:order_id>")
def shelve_order(order_id: int):
    order = get_order(order_id)
    suggested = shelf_ops.suggest_slot(db.session, order) if order.status in SHELVABLE else None
    return render_template("staff/shelving/scan_slot.html", order=order, form=SlotForm(),
                           suggested=suggested, action_form=ActionForm())


@bp.post("/shelving/<int:order_id>")
def put_on_slot(order_id: int):
    """Put the bag on the scanned (or suggested) slot; also moves a bag already shelved."""
    order = get_order(order_id)
    form = SlotForm()
    here = url_for("staff.shelve_order", order_id=order.id)
    if not form.validate():
        return answer(_("Scan a slot label."), ok=False, to=here, status=400)
    label = form.slot.data.strip()
    if order.packed_at is None and order.status != OrderStatus.READY:
        return answer(_("Order %(code)s is not packed yet. Finish packing first.",
                        code=order.pickup_code), ok=False, to=here)
    try:
        try:
            slot = shelf_ops.get_slot(db.session, label)
        except order_ops.NotFound:
            if order_ops.by_pickup_code(db.session, label) is None:
                raise
            return answer(_("That is a bag label. Scan the slot label on the shelf."),
                          ok=False, to=here, status=400)
        settings = station().settings
        was_on = order.slot_label

        def work() -> None:
            shelf_ops.shelve(db.session, order, slot, actor(), station().calendar,
                             settings.pickup.days_on_shelf)

        commit(work)
    except order_ops.OrderError as exc:
        return answer(str(exc), ok=False, to=here, status=exc.status_code)
    if was_on and was_on != order.slot_label:
        message = _("Bag %(code)s moved from %(old)s to %(slot)s.", code=order.pickup_code,
                    old=was_on, slot=order.slot_label)
    else:
        message = _("Bag %(code)s is on %(slot)s.", code=order.pickup_code,
                    slot=order.slot_label)
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
        return answer(str(exc), ok=False, to=here, status=exc.status_code)
    return answer(_("Bag %(code)s taken off %(slot)s.", code=order.pickup_code, slot=slot),
                  to=here)


def shelf_map_rows(today: dt.date | None = None) -> list[dict]:
    """Return every shelf with its slots, bags on them, occupancy and deadline colours."""
    today = today or dt.date.today()
    bags: dict[int, list[dict]] = defaultdict(list)
    rows = db.session.execute(
        select(Place.slot_id, Order).join(Order, Order.place_id == Place.id)
        .order_by(Order.shelved_at))
    for slot_id, order in rows:
        bags[slot_id].append({"order": order, "age": days_since(order.shelved_at),
                              "state": deadline_state(order, today)})
    shelves = []
    for shelf in db.session.scalars(select(Shelf).order_by(Shelf.position)):
        slots = []
        for slot in db.session.scalars(select(Slot).where(Slot.shelf_id == shelf.id)
                                       .order_by(Slot.number)):
            on = bags.get(slot.id, [])
            if not slot.active and not on:
                continue
            states = {b["state"] for b in on}
            state = ("expired" if "expired" in states else "today" if "today" in states
                     else "full" if len(on) >= slot.capacity else "used" if on else "free")
            slots.append({"slot": slot, "bags": on, "used": len(on), "state": state})
        shelves.append({"shelf": shelf, "slots": slots,
                        "used": sum(s["used"] for s in slots),
                        "capacity": sum(s["slot"].capacity for s in slots)})
    return shelves


@bp.get("/shelves")
def shelf_map():
    shelves = shelf_map_rows()
    wanted = request.args.get("state")
    return render_template("staff/shelving/map.html", shelves=shelves, wanted=wanted,
                           today=dt.date.today())
