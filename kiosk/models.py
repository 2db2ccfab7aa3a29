"""Tables of the station: orders and their items, shelves, slots, staff, audit, ILS queue.

A slot's capacity is enforced by the database itself: each slot has one
`Place` row per bag it can hold, and an order on the shelf owns one place
through a unique foreign key. Two stations can never put a bag in the same
place, so a slot can never hold more bags than it has places.
"""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kiosk import clock
from kiosk.extensions import db


def utcnow() -> dt.datetime:
    """Return the current time in UTC, timezone-aware."""
    return clock.now()


class OrderStatus(enum.StrEnum):
    """Where an order stands; see kiosk.domain.orders for the allowed moves."""

    RECEIVED = "received"
    PACKING = "packing"
    READY = "ready"
    COLLECTED = "collected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


ACTIVE_STATUSES = (OrderStatus.RECEIVED, OrderStatus.PACKING, OrderStatus.READY)
_ACTIVE_SQL = "status IN ('received', 'packing', 'ready')"
_STATUS_SQL = "status IN ('received','packing','ready','collected','expired','cancelled')"


class Shelf(db.Model):
    """A shelf of one branch's pickup wall; its name is unique within the branch (0010)."""

    __tablename__ = "shelves"
    __table_args__ = (UniqueConstraint("branch", "name", name="uq_shelves_branch_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    branch: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(8))
    position: Mapped[int] = mapped_column(Integer, default=0)
    slots: Mapped[list[Slot]] = relationship(
        back_populates="shelf", order_by="Slot.number", cascade="all, delete-orphan"
    )


class Slot(db.Model):
    """A slot of a shelf; its printed label ("A-07") is unique within its shelf's branch,
    which the slot carries too so a scanned label is found with one index seek."""

    __tablename__ = "slots"
    __table_args__ = (
        UniqueConstraint("shelf_id", "number"),
        UniqueConstraint("branch", "label", name="uq_slots_branch_label"),
        CheckConstraint("capacity > 0", name="slot_capacity_positive"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    shelf_id: Mapped[int] = mapped_column(ForeignKey("shelves.id", ondelete="CASCADE"))
    branch: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(16))
    capacity: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(default=True)
    shelf: Mapped[Shelf] = relationship(back_populates="slots")
    places: Mapped[list[Place]] = relationship(
        back_populates="slot", order_by="Place.number", cascade="all, delete-orphan"
    )


class Place(db.Model):
    """One bag's room in a slot; there are exactly `capacity` of them per slot."""

    __tablename__ = "places"
    __table_args__ = (UniqueConstraint("slot_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("slots.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    slot: Mapped[Slot] = relationship(back_populates="places")


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_STATUS_SQL, name="order_status_known"),
        CheckConstraint(
            "place_id IS NULL OR status = 'ready'", name="order_on_shelf_only_when_ready"
        ),
        Index(
            "uq_orders_active_pickup_code",
            "pickup_code",
            unique=True,
            sqlite_where=db.text(_ACTIVE_SQL),
            postgresql_where=db.text(_ACTIVE_SQL),
        ),
        # The scan: one card's open orders at one branch, all three in the index (0008).
        Index("ix_orders_card_status_branch", "card", "status", "branch"),
        Index("ix_orders_status_branch", "status", "branch"),
        # The staff pages at a big library's scale (migration 0007).
        Index("ix_orders_branch_id", "branch", "id"),
        Index("ix_orders_status_id", "status", "id"),
        Index("ix_orders_pickup_code", "pickup_code"),
        Index("ix_orders_cancelled_ref", "cancelled_ref"),
        # with the branch since 0010: statistics of one branch read no rows either
        Index("ix_orders_shelved_at", "shelved_at", "slot_label", "branch"),
        Index("ix_orders_closed_at", "closed_at", "status", "shelved_at", "branch"),
        Index("ix_orders_status_deadline", "status", "deadline"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    # Unique among orders that are not cancelled: cancelling moves the ref to cancelled_ref,
    # so a corrected import can use it again (kiosk.domain.orders.move).
    ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    cancelled_ref: Mapped[str | None] = mapped_column(String(64))
    card: Mapped[str | None] = mapped_column(String(64))
    patron_name: Mapped[str | None] = mapped_column(String(200))
    branch: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.RECEIVED)
    pickup_code: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16), default="import")
    place_id: Mapped[int | None] = mapped_column(
        ForeignKey("places.id", ondelete="RESTRICT"), unique=True
    )
    slot_label: Mapped[str | None] = mapped_column(String(16))
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    packed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    shelved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    anonymised_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    pack_note: Mapped[str | None] = mapped_column(Text)
    # Set while a collect lends the items in the library system (kiosk.domain.orders
    # start_collecting): no other change of the order may land until it ends or times out.
    collecting_since: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Raised by every write of the row; an UPDATE carries the number it read, so of two
    # changes made at once only the first lands and the other raises StaleDataError (0009).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    __mapper_args__ = {"version_id_col": version}

    place: Mapped[Place | None] = relationship()
    items: Mapped[list[Item]] = relationship(
        back_populates="order", order_by="Item.id", cascade="all, delete-orphan"
    )
    audit: Mapped[list[AuditEvent]] = relationship(
        back_populates="order", order_by="AuditEvent.id", cascade="all, delete-orphan"
    )


class Item(db.Model):
    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("order_id", "barcode"), Index("ix_items_barcode", "barcode"))
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    barcode: Mapped[str] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(500))
    packed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    lent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_date: Mapped[str | None] = mapped_column(String(32))
    ils_message: Mapped[str | None] = mapped_column(String(500))
    order: Mapped[Order] = relationship(back_populates="items")


class AuditEvent(db.Model):
    """One change of an order: who (staff or station), when, where, from and to."""

    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    station: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str | None] = mapped_column(Text)
    order: Mapped[Order] = relationship(back_populates="audit")


class StaffUser(db.Model):
    __tablename__ = "staff_users"
    __table_args__ = (CheckConstraint("role IN ('staff', 'admin')", name="staff_role_known"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(8), default="staff")
    card: Mapped[str | None] = mapped_column(String(64), unique=True)
    pin_hash: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Raised to end every session of this user at once (logout, new password, role change,
    # unlock); a staff session carries the number it started with.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class IlsJob(db.Model):
    """A checkout or check-in to send to the library system; kept after it went through.

    kind "checkout": lend the item to `card` (at collect). kind "checkin": check the item
    in at shelving; `card` is the hold patron's card the ILS named (CY), "" until then,
    `alert` and `destination` the answer's CV and CT. One job per item and kind.
    """

    __tablename__ = "ils_jobs"
    __table_args__ = (
        CheckConstraint("state IN ('queued', 'done', 'refused', 'failed')", name="job_state"),
        CheckConstraint("kind IN ('checkout', 'checkin')", name="job_kind"),
        UniqueConstraint("kind", "item_id", name="uq_ils_jobs_kind_item"),
        Index("ix_ils_jobs_state", "state", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="checkout")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    card: Mapped[str] = mapped_column(String(64))
    item_barcode: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    due_date: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(String(500))
    alert: Mapped[str | None] = mapped_column(String(2))
    destination: Mapped[str | None] = mapped_column(String(100))

