"""The shelf map: every slot with its bags, or at a big station an overview and one shelf.

Up to COMPACT_FROM slots the whole map shows at once. Beyond, the page opens with
one line per shelf (bags, capacity, bags past their last day, bags due today) and
shows one shelf's slots when asked (`?shelf=A`); `?code=` finds a bag by its
pickup code and opens its shelf with its slot marked; `?state=` keeps only the
slots in that state. Counts come from grouped queries, bags from the shelf asked.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable

from flask import render_template, request
from flask_babel import gettext as _
from sqlalchemy import func, select

from kiosk import clock
from kiosk.domain import orders as order_ops
from kiosk.domain.branches import branch_name
from kiosk.extensions import db
from kiosk.models import Order, OrderStatus, Place, Shelf, Slot
from kiosk.staff import bp
from kiosk.staff.common import branch_choice, branch_scope, days_since, station

COMPACT_FROM = 400  # slots
STATES = ("free", "used", "full", "today", "expired")


def _deadline_states(today: dt.date) -> Callable[[dt.date | None], str]:
    """Return deadline → "expired" | "today" | "ok", counted as clearance counts it."""
    calendar, seen = station().calendar, {}

    def state(deadline: dt.date | None) -> str:
        if deadline not in seen:
            last = calendar.next_open(deadline) if deadline else None
            seen[deadline] = ("ok" if last is None or last > today
                              else "expired" if last < today else "today")
        return seen[deadline]

    return state


def _on_wall(query, column, branch: str | None):
    """Return query kept to branch's wall (column: a branch column), or as it is for all."""
    return query if branch is None else query.where(column == branch)


def overview(today: dt.date, branch: str | None = None) -> list[dict]:
    """Return one line per shelf (of branch, or every branch): bags, capacity, bags expired
    and due today."""
    state = _deadline_states(today)
    lines = {s.id: {"shelf": s, "used": 0, "capacity": 0, "slots": 0, "expired": 0,
                    "today": 0} for s in db.session.scalars(_on_wall(
                        select(Shelf).order_by(Shelf.branch, Shelf.position), Shelf.branch,
                        branch))}
    for shelf_id, slots, capacity in db.session.execute(_on_wall(
            select(Slot.shelf_id, func.count(), func.sum(Slot.capacity))
            .where(Slot.active.is_(True)).group_by(Slot.shelf_id), Slot.branch, branch)):
        lines[shelf_id].update(slots=slots, capacity=capacity or 0)
    for shelf_id, deadline, bags in db.session.execute(_on_wall(
            select(Slot.shelf_id, Order.deadline, func.count())
            .select_from(Order).join(Place, Order.place_id == Place.id)
            .join(Slot, Place.slot_id == Slot.id)
            .where(Order.place_id.is_not(None)).group_by(Slot.shelf_id, Order.deadline),
            Slot.branch, branch)):
        line = lines[shelf_id]
        line["used"] += bags
        if state(deadline) in ("expired", "today"):
            line[state(deadline)] += bags
    return list(lines.values())


def shelf_map_rows(today: dt.date | None = None, shelf_ids: list[int] | None = None,
                   wanted: str | None = None, branch: str | None = None) -> list[dict]:
    """Return shelves (all of branch's wall or every wall, or those of shelf_ids) with
    their slots, bags and colours."""
    today = today or clock.today()
    state = _deadline_states(today)
    bags: dict[int, list[dict]] = defaultdict(list)
    query = (select(Place.slot_id, Order.id, Order.pickup_code, Order.deadline,
                    Order.shelved_at)
             .join(Order, Order.place_id == Place.id).order_by(Order.shelved_at))
    shelves = _on_wall(select(Shelf).order_by(Shelf.branch, Shelf.position), Shelf.branch,
                       branch)
    slots = select(Slot).order_by(Slot.shelf_id, Slot.number)
    if shelf_ids is None and branch is not None:
        query = query.join(Slot, Place.slot_id == Slot.id).where(Slot.branch == branch)
        slots = slots.where(Slot.branch == branch)
    if shelf_ids is not None:
        query = query.join(Slot, Place.slot_id == Slot.id).where(Slot.shelf_id.in_(shelf_ids))
        shelves = shelves.where(Shelf.id.in_(shelf_ids))
        slots = slots.where(Slot.shelf_id.in_(shelf_ids))
    age_text = _("%(n)d d")  # formatted here: translated once, not once per bag
    for bag in db.session.execute(query):
        age = days_since(bag.shelved_at) or 0
        bags[bag.slot_id].append({"order": bag, "age": age, "age_text": age_text % {"n": age},
                                  "state": state(bag.deadline)})
    by_shelf: dict[int, list[Slot]] = defaultdict(list)
    for slot in db.session.scalars(slots):
        by_shelf[slot.shelf_id].append(slot)
    rows = []
    for shelf in db.session.scalars(shelves):
        shown = []
        for slot in by_shelf[shelf.id]:
            on = bags.get(slot.id, [])
            if not slot.active and not on:
                continue
            states = {b["state"] for b in on}
            slot_state = ("expired" if "expired" in states else "today" if "today" in states
                          else "full" if len(on) >= slot.capacity else "used" if on else "free")
            shown.append({"slot": slot, "bags": on, "used": len(on), "state": slot_state})
        rows.append({"shelf": shelf, "slots": [s for s in shown
                                               if not wanted or s["state"] == wanted],
                     "used": sum(s["used"] for s in shown),
                     "capacity": sum(s["slot"].capacity for s in shown)})
    return rows


def _find(code: str, branch: str | None) -> tuple[Order | None, str | None]:
    """Return the shelved bag with pickup code on the wall(s) shown (or None) and what to
    tell staff."""
    order = order_ops.by_pickup_code(db.session, code)
    if order is None or order.status != OrderStatus.READY or order.place_id is None:
        return None, _("No bag with pickup code %(code)s is on a shelf.", code=code[:32])
    wall = order.place.slot.branch
    if branch is not None and wall != branch:
        return None, _("Bag %(code)s is on %(slot)s at %(branch)s.", code=order.pickup_code,
                       slot=order.slot_label, branch=branch_name(wall))
    return order, _("Bag %(code)s is on %(slot)s.", code=order.pickup_code,
                    slot=order.slot_label)


@bp.get("/shelves")
def shelf_map():
    today = clock.today()
    wanted = request.args.get("state") if request.args.get("state") in STATES else None
    code = request.args.get("code", "").strip()
    scope = branch_scope()
    found, message = _find(code, scope) if code else (None, None)
    all_slots = db.session.scalar(_on_wall(select(func.count(Slot.id)), Slot.branch, scope))
    compact = all_slots > COMPACT_FROM
    chosen = request.args.get("shelf", "").strip().upper()[:8]
    shelf_ids = None
    if found is not None and found.place is not None:
        shelf_ids = [found.place.slot.shelf_id]
    elif chosen:
        shelf_ids = list(db.session.scalars(_on_wall(
            select(Shelf.id).where(Shelf.name == chosen), Shelf.branch, scope)))
    elif compact:  # the overview's counts lead to a shelf (and its slots in a state)
        shelf_ids = []
    shelves = shelf_map_rows(today, shelf_ids, wanted, scope)
    return render_template("staff/shelving/map.html", shelves=shelves, wanted=wanted,
                           today=today, compact=compact,
                           overview=overview(today, scope) if compact else None,
                           found=found, message=message, code=code, chosen=chosen,
                           branch_choice=branch_choice(scope))
