"""Orders: the list, one order with its audit trail, a new order by hand, collect, cancel."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from flask import render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select, union

from kiosk import webpolicy
from kiosk.domain import audit, identifiers, pickup_codes
from kiosk.domain import orders as order_ops
from kiosk.domain.cards import mask
from kiosk.domain.messages import N_, plural
from kiosk.extensions import db
from kiosk.models import ACTIVE_STATUSES, Order, OrderStatus
from kiosk.staff import bp
from kiosk.staff.auth import actor
from kiosk.staff.common import (
    ALL_BRANCHES,
    answer,
    branch_scope,
    commit,
    deadline_state,
    describe,
    get_order,
    station,
    status_name,
    wants_json,
)
from kiosk.staff.forms import (
    ActionForm,
    CardForm,
    CollectCardForm,
    CollectForm,
    CorrectForm,
    NewOrderForm,
    ScanForm,
    SlotForm,
)

log = logging.getLogger(__name__)
PAGE = 50


@bp.get("/orders")
def orders():
    """Orders of this station's branch, or of the branch asked (?branch=NAME or all: anyone
    may search every branch here, the detail page says when an order is elsewhere)."""
    status = request.args.get("status", "")
    scope = branch_scope(anyone=True)
    query_text = request.args.get("q", "").strip()[:64]
    if query_text and not request.args.get("branch"):
        scope = None  # a search finds the order whichever branch it was filed under
    page = webpolicy.int_arg("page", 1, minimum=1, maximum=webpolicy.MAX_OFFSET // PAGE)
    query = select(Order)
    if scope is not None:
        query = query.where(Order.branch == scope)
    if status in {s.value for s in OrderStatus}:
        query = query.where(Order.status == status)
    if query_text:
        code = pickup_codes.parse_code(query_text)
        card = station().cards.card(query_text)
        # One index each (ref, cancelled ref, pickup code, card), joined: an OR would read
        # the whole branch.
        query = query.where(Order.id.in_(union(
            select(Order.id).where(Order.ref == query_text),
            select(Order.id).where(Order.cancelled_ref == query_text),
            select(Order.id).where(Order.pickup_code == (code or query_text)),
            select(Order.id).where(Order.card == (card or query_text)))))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(query.order_by(Order.id.desc())
                              .limit(PAGE).offset((page - 1) * PAGE)).all()
    return render_template("staff/orders/list.html", orders=rows, total=total, page=page,
                           pages=max((total + PAGE - 1) // PAGE, 1), status=status,
                           q=query_text, statuses=[s.value for s in OrderStatus],
                           branch=ALL_BRANCHES if scope is None else scope,
                           branches=_branch_menu(), here=station().branch)


@bp.get("/orders/<int:order_id>")
def order_detail(order_id: int):
    order = order_ops.get(db.session, order_id)  # any branch: it may need correcting
    if order.branch != station().branch:
        return render_template("staff/orders/detail.html", order=order, form=ActionForm(),
                               elsewhere=True, correct_form=_correct_form(order),
                               station_branch=station().branch)
    return render_template("staff/orders/detail.html", order=order, form=ActionForm(),
                           slot_form=SlotForm(), state=deadline_state(order),
                           missing=order_ops.missing_items(order), card_form=CardForm(),
                           ask_card=station().card_needed(order),
                           correct_form=_correct_form(order), elsewhere=False)


def _branch_menu(*extra: str) -> list[str]:
    """Return the branches to offer: configured, this one, those with open orders, extra.

    Cheap (the status-and-branch index over open orders only); a branch known only from
    closed orders is still accepted when typed in a file (KnownBranches asks for it).
    """
    open_ = db.session.scalars(select(Order.branch).where(
        Order.status.in_([s.value for s in ACTIVE_STATUSES])).distinct())
    st = station()
    return sorted({*st.settings.station.branches, st.branch, *open_, *extra})


def _correct_form(order: Order, form: CorrectForm | None = None) -> CorrectForm:
    form = form or CorrectForm(branch=order.branch)
    form.branch.choices = _branch_menu(order.branch)
    return form


@bp.post("/orders/<int:order_id>/correct")
def correct(order_id: int):
    """Correct the branch or card of an order not yet collected (audit trail records it)."""
    order = order_ops.get(db.session, order_id)
    form = _correct_form(order, CorrectForm())
    here = url_for("staff.order_detail", order_id=order.id)
    if not form.validate():
        errors = [e for field in form for e in field.errors]
        return answer(_("Nothing corrected: %(problem)s", problem="; ".join(errors)),
                      ok=False, to=here, status=400)
    raw = (form.card.data or "").strip()
    card = station().cards.card(raw) if raw else None
    if raw and card is None:
        return answer(_("That is not a valid patron card number."), ok=False, to=here,
                      status=422)
    try:
        changes = commit(lambda: order_ops.correct(
            db.session, order, actor(), branch=form.branch.data, card=card,
            branches=station().known_branches(db.session)))
    except order_ops.OrderError as exc:
        return answer(describe(exc), ok=False, to=here, status=exc.status_code)
    if not changes:
        return answer(_("Nothing to correct."), to=here)
    return answer(_("Order %(code)s corrected.", code=order.pickup_code), to=here)


def _parse_items(text: str) -> list[order_ops.NewItem]:
    items = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        barcode, _sep, title = line.replace("\t", ";").partition(";")
        if not barcode.strip() or len(barcode.strip()) > 64:
            raise order_ops.OrderError(N_("Bad item line: %(line)s"), line=line[:80])
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
            for _column, template, params in identifiers.order_problems(
                    new.card, new.ref, new.branch, new.patron_name,
                    [(i.barcode, i.title) for i in new.items]):
                raise order_ops.OrderError(template, **params)
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
    form = CardForm()
    here = url_for("staff.order_detail", order_id=order.id)
    if order.status != OrderStatus.READY:
        return answer(_("Order %(code)s is %(status)s and cannot be collected.",
                        code=order.pickup_code, status=status_name(order.status)),
                      ok=False, to=here)
    refusal = _collect(order, form.card.data)
    if refusal:
        return answer(refusal.message, ok=False, to=here, status=refusal.status,
                      **refusal.data)
    return answer(_("Order %(code)s collected.", code=order.pickup_code), to=here)


@bp.get("/orders/<int:order_id>/cancel")
def cancel_page(order_id: int):
    """Ask before cancelling: a cancelled order cannot be opened again."""
    order = order_ops.get(db.session, order_id)
    return render_template("staff/orders/cancel.html", order=order, form=ActionForm())


@bp.post("/orders/<int:order_id>/cancel")
def cancel(order_id: int):
    """Cancel the order when the post confirms it (`confirm=yes`); else ask first."""
    order = order_ops.get(db.session, order_id)  # any branch: a wrongly imported order too
    form = ActionForm()
    here = url_for("staff.order_detail", order_id=order.id)
    if request.form.get("confirm") != "yes":  # one stray click must not cancel
        if wants_json():
            return answer(_("Confirm the cancellation of order %(code)s first.",
                            code=order.pickup_code), ok=False, to=here, status=428,
                          confirm=url_for("staff.cancel_page", order_id=order.id))
        return render_template("staff/orders/cancel.html", order=order, form=form)
    try:
        commit(lambda: order_ops.cancel(db.session, order, actor(), audit.detail("by_staff")))
    except order_ops.OrderError as exc:
        return answer(describe(exc), ok=False, to=here, status=exc.status_code)
    return answer(_("Order %(code)s cancelled.", code=order.pickup_code), to=here)


@bp.get("/collect")
def collect_scan_page():
    """The desk's collect scan; `?bag=` asks for the patron's card of a bag that has none."""
    bag = order_ops.by_pickup_code(db.session, request.args.get("bag", "")[:64])
    if (bag is not None and bag.branch == station().branch
            and bag.status == OrderStatus.READY and station().card_needed(bag)):
        return render_template("staff/orders/collect.html", bag=bag,
                               form=CollectCardForm(code=bag.pickup_code))
    return render_template("staff/orders/collect.html", bag=None, form=ScanForm())


@bp.post("/collect")
def collect_by_scan():
    """Mark the order on the scanned bag label collected (the patron has it).

    A bag with no card while items are lent at collect needs the patron's card too
    (`card`): without it the answer sends staff to the page that asks for it.
    """
    form = CollectForm()
    back = url_for("staff.collect_scan_page")
    raw = (form.code.data or "").strip() if form.validate() else ""
    order = order_ops.by_pickup_code(db.session, raw) if raw else None
    if order is None or order.branch != station().branch:
        card = station().cards.card(raw) if raw and order is None else None
        if card is not None:
            return _card_at_collect(card, back)
        return answer(_("No open order with pickup code %(code)s.", code=raw[:32] or "-"),
                      ok=False, to=back, status=404)
    if order.status != OrderStatus.READY:
        return answer(_("Order %(code)s is %(status)s, not on a shelf: not collected.",
                        code=order.pickup_code, status=status_name(order.status)),
                      ok=False, to=back)
    slot = order.slot_label
    card_given = bool((form.card.data or "").strip())
    refusal = _collect(order, form.card.data)
    if refusal:
        # A bag that still has no card goes (back) to the page that asks for the card.
        to = (url_for("staff.collect_scan_page", bag=order.pickup_code)
              if station().card_needed(order) else back)
        return answer(refusal.message, ok=False, to=to, status=refusal.status,
                      go=refusal.data.get("need_card", False) and not card_given,
                      **refusal.data)
    return answer(_("Order %(code)s collected; slot %(slot)s freed.", code=order.pickup_code,
                    slot=slot), to=back, go=card_given)


def _card_at_collect(card: str, back: str):
    """Say that a patron card was scanned where the bag label belongs; name the card's bags."""
    bags = db.session.execute(
        select(Order.pickup_code, Order.slot_label)
        .where(Order.card == card, Order.branch == station().branch,
               Order.status == OrderStatus.READY)
        .order_by(Order.slot_label, Order.id)).all()
    if bags:
        message = _("That is a patron card (%(card)s), not a bag label: scan the pickup code on "
                    "the bag label. Bags of this card on the shelf: %(bags)s.", card=mask(card),
                    bags=", ".join(f"{code} ({slot})" for code, slot in bags))
    else:
        message = _("That is a patron card (%(card)s), not a bag label: scan the pickup code on "
                    "the bag label. This card has no bag on the shelf here.", card=mask(card))
    return answer(message, ok=False, to=back, status=400, card_scanned=True,
                  bags=[{"pickup_code": code, "slot": slot} for code, slot in bags])


@dataclass
class Refusal:
    """Why a bag at the desk was not collected: the message, the HTTP status, JSON extras."""

    message: str
    status: int = 409
    data: dict[str, Any] = field(default_factory=dict)


def _collect(order: Order, raw_card: str | None = None) -> Refusal | None:
    """Collect a bag handed over at the desk, lending its items as the kiosk does.

    With an ILS link and `checkout_on_collect`, each item is checked out to the order's
    card first (queued when the ILS is down); items the ILS refuses keep the order on its
    slot. A bag with no card yet (an item bag whose owner the ILS has not named) is lent
    to the patron's card that staff give (raw_card, checked by the station's CardReader);
    without a valid one nothing changes. A card given for a bag with a card must be that
    card. Returns why the bag was not collected, or None.
    """
    st = station()
    code = order.pickup_code
    raw = (raw_card or "").strip()
    needed = st.card_needed(order)
    given = None
    if needed and not raw:
        return Refusal(_("Bag %(code)s has no patron card yet: the library system has not "
                         "named its owner. Scan the patron's card to lend the items and "
                         "mark the bag collected.", code=code), data={"need_card": True})
    if raw and (needed or order.card is not None):
        given = st.cards.card(raw)
        if given is None:
            return Refusal(_("That is not a valid patron card number: bag %(code)s not "
                             "collected.", code=code), status=422, data={"need_card": needed})
        if order.card is not None and given != order.card:
            return Refusal(_("Bag %(code)s belongs to another patron card: not collected.",
                             code=code))
    card = order.card or (given if needed else None)
    who = actor()
    detail = audit.detail("staff_scan")
    if needed and card:
        detail = audit.detail("card_at_desk", card=mask(card))
        order_ops.record(db.session, order, who, "card_given",
                         detail=audit.detail("card_given", card=mask(card)))
    try:
        outcome = st.collect(db.session, order, card, who, detail=detail)
    except order_ops.OrderError as exc:  # another desk or the kiosk was a moment faster
        return Refusal(describe(exc), status=exc.status_code)
    if needed:
        log.info("staff %s collecting order %s with card %s given at the desk: %s",
                 who.name, order.id, mask(card),
                 "collected" if outcome.collected
                 else f"{plural(len(outcome.refused), '%(num)d item', '%(num)d items')} refused")
    if not outcome.refused:
        return None
    return Refusal(_("The library system refused %(items)s; the order stays on its slot.",
                     items=", ".join(f"{i.barcode} ({i.message or '-'})"
                                     for i in outcome.refused)))
