"""Import orders from CSV or JSON: check everything first, then write all or nothing.

The file is read and checked in `kiosk.domain.import_files`; here the refs are
checked against the database too. `preview` reads and checks without writing
(for a staff page); `import_orders` writes in one transaction or not at all.

The write is in bulk: orders, items and audit events go in as Core
`executemany` batches (insertmanyvalues with RETURNING for the order ids),
pickup codes are drawn all at once against the set of codes open orders hold.
The database's unique indexes still have the last word: an import or API call
that takes a ref or code at the same moment makes this transaction fail as a
whole, and the import reports the ref or draws its codes again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, Table, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from kiosk.domain import (
    audit,
    identifiers,
    import_repeats,
    order_events,
    pickup_codes,
    shelving,
)
from kiosk.domain.cards import CardReader
from kiosk.domain.import_files import (
    Draft,
    Preview,
    Problem,
    Source,
    check_branches,
    check_code_space,
    detect_format,
    read_source,
)
from kiosk.domain.import_reader import read_orders
from kiosk.domain.messages import N_, plural
from kiosk.domain.orders import Actor, OrderError
from kiosk.models import ACTIVE_STATUSES, AuditEvent, Item, Order, OrderStatus, utcnow

Progress = Callable[[int, int], None]
BATCH = 2_000  # orders written per round (progress moves, memory stays flat)
REF_CHUNK = 2_000  # refs looked up per query
ATTEMPTS = 3  # whole-transaction retries when a concurrent writer took a drawn pickup code


@dataclass(frozen=True)
class CreatedOrder:
    """An order the import has just written (inside its transaction)."""

    id: int
    ref: str | None
    branch: str
    pickup_code: str


# Called once per written batch, inside the import's transaction, with the orders just
# created: the one place where an integration (an outbox, say) sees them in bulk. Rows it
# adds through the session's connection commit or vanish together with the import.
OnCreated = Callable[[Session, list[CreatedOrder]], None]


@dataclass
class ImportResult:
    """What an import wrote: orders, items, orders per branch and their ids."""

    orders: int
    items: int
    per_branch: dict[str, int]
    order_ids: list[int]


class ImportFailed(Exception):
    """Raised with every problem found; nothing was written."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{plural(len(problems), '%(num)d problem', '%(num)d problems')}; "
                         "nothing imported")
        self.problems = problems


def check_refs(session: Session, drafts: list[Draft]) -> list[Problem]:
    """Return a problem for each ref used twice in drafts or present in the database."""
    problems: list[Problem] = []
    seen: dict[str, Draft] = {}
    for d in drafts:
        ref = d.new.ref
        if ref and ref in seen:
            problems.append(Problem(N_("Ref %(ref)s is used by another order in this file"),
                                    line=d.line, order=d.order, column="ref", ref=ref,
                                    params={"ref": ref}))
        elif ref:
            seen[ref] = d
    refs = list(seen)
    for i in range(0, len(refs), REF_CHUNK):
        chunk = refs[i:i + REF_CHUNK]
        for ref in session.scalars(select(Order.ref).where(Order.ref.in_(chunk))):
            d = seen[ref]
            problems.append(Problem(N_("An order with ref %(ref)s exists already"),
                                    line=d.line, order=d.order, ref=ref, params={"ref": ref},
                                    column="order_ref" if d.line else "ref"))
    return problems


def check_characters(drafts: list[Draft], labels: dict[str, str] | None = None
                     ) -> list[Problem]:
    """Return a problem for each identifier or text of drafts that may not travel.

    Identifiers (card, ref, item barcodes) are printable ASCII without `|`; titles, names
    and branches hold no control, invisible or bidi characters (kiosk.domain.identifiers).
    A file's rows are named by line and the file's column name, JSON orders by position.
    """
    labels = labels or {}
    file_columns = {"ref": "order_ref", "barcode": "item_barcode"}
    problems = []
    for d in drafts:
        new = d.new
        for column, template, params in identifiers.order_problems(
                new.card, new.ref, new.branch, new.patron_name,
                [(i.barcode, i.title) for i in new.items]):
            line = d.line
            if d.lines and column.startswith("items["):
                index, _, field = column[6:].partition("].")
                line = d.lines.get(new.items[int(index)].barcode, d.line)
                column = file_columns.get(field, field)
            elif d.lines:
                column = file_columns.get(column, column)
            column = labels.get(column, column)
            ref = new.ref if new.ref and identifiers.is_identifier(new.ref) else None
            problems.append(Problem(template, line=line, order=d.order, ref=ref,
                                    column=column, params={**params, "column": column}))
    return problems


def preview(session: Session, source: Source, cards: CardReader, default_branch: str,
            fmt: str | None = None, branches: Collection[str] | None = None,
            name: str | None = None, again: bool = False) -> Preview:
    """Read and check source without writing anything; return orders and problems.

    With branches (the library's known branches), an order for any other is a problem.
    Rows that open orders hold already, or a file imported before, are problems unless
    again (see `import_repeats`); name is the file's name when source does not carry it.
    """
    try:
        data, found_name = read_source(source)
    except OSError as exc:
        return Preview(fmt or "?", problems=[Problem(N_("Cannot read the file: %(error)s"),
                                                     params={"error": exc.strerror})])
    name = name or found_name
    pv = read_orders(data, fmt or detect_format(data, name), cards, default_branch, branches)
    pv.name, pv.sha256 = name[:100], import_repeats.file_hash(data)
    # Rows of a table were checked one by one as they were read; JSON orders are checked here.
    pv.problems += check_characters([d for d in pv.drafts if not d.lines], pv.labels)
    if any(p.problem in (identifiers.NOT_AN_IDENTIFIER, identifiers.BAD_TEXT)
           for p in pv.problems):
        pv.drafts = []  # text the database cannot even be asked about (a lone surrogate)
    pv.problems += check_refs(session, pv.drafts)
    if branches is not None:
        pv.problems += check_branches(pv.drafts, branches)
    if not again:
        pv.problems += import_repeats.check_repeats(session, pv.drafts, pv.sha256)
    if pv.drafts:  # each order needs a free pickup code (issue 26)
        held = session.scalar(select(func.count()).select_from(Order).where(
            Order.status.in_([s.value for s in ACTIVE_STATUSES])))
        pv.problems += check_code_space(len(pv.drafts), held or 0)
    if not pv.drafts and not pv.problems:
        pv.problems.append(Problem(N_("No orders in the file")))
    pv.problems.sort(key=lambda p: (p.line or 0, p.order or 0))
    return pv


def import_orders(session: Session, source: Source | Preview, actor: Actor, cards: CardReader,
                  default_branch: str, progress: Progress | None = None,
                  fmt: str | None = None, on_created: OnCreated | None = None,
                  branches: Collection[str] | None = None, name: str | None = None,
                  again: bool = False) -> ImportResult:
    """Check source, then create every order in one transaction; raise ImportFailed if any is bad.

    Pass a `Preview` already made to skip reading the source again; `on_created`
    sees each batch of new orders inside the transaction (see `OnCreated`).
    """
    pv = source if isinstance(source, Preview) else preview(
        session, source, cards, default_branch, fmt, branches, name=name, again=again)
    if not pv.ok:
        raise ImportFailed(pv.problems or [Problem(N_("No orders in the file"))])
    started = time.perf_counter()
    for _ in range(ATTEMPTS):
        try:
            ids = shelving.with_retry(
                session, lambda: _write(session, pv, actor, progress, on_created))
        except OrderError as exc:  # no free pickup codes left
            raise ImportFailed([Problem(exc.template, params=exc.params)]) from None
        except IntegrityError:
            # Someone took a ref or a drawn pickup code since the check (with_retry rolled back).
            taken = check_refs(session, pv.drafts)
            session.rollback()
            if taken:
                raise ImportFailed(taken) from None
            continue  # a pickup code: draw them all again
        order_events.imported(len(pv.drafts), time.perf_counter() - started)
        return ImportResult(orders=len(pv.drafts), items=pv.items, per_branch=pv.per_branch,
                            order_ids=ids)
    raise ImportFailed([Problem(N_("Other orders took the drawn pickup codes several times; "
                                   "nothing imported, please try again"))])


def _write(session: Session, pv: Preview, actor: Actor, progress: Progress | None,
           on_created: OnCreated | None) -> list[int]:
    """Insert the preview's orders, items and audit events in batches; return their ids."""
    drafts = pv.drafts
    conn = session.connection()
    _begin_writing(conn)
    active = [s.value for s in ACTIVE_STATUSES]
    taken = set(conn.scalars(select(Order.pickup_code).where(Order.status.in_(active))))
    codes = pickup_codes.draw(len(drafts), taken)
    if codes is None:
        raise OrderError(N_("Could not find a free pickup code; too many open orders"))
    ids = _new_ids(conn, len(drafts))
    now = _stored(conn, Order.__table__.c.created_at, utcnow())
    received = OrderStatus.RECEIVED.value
    origin = {"file": pv.name, "sha256": pv.sha256} if pv.sha256 else {}
    for start in range(0, len(drafts), BATCH):
        batch = list(zip(ids[start:start + BATCH], drafts[start:start + BATCH],
                         codes[start:start + BATCH], strict=True))
        _insert(conn, Order.__table__, ORDER_COLUMNS, [
            (oid, d.new.ref, d.new.card, d.new.branch, d.new.patron_name, received, code,
             "import", now, now) for oid, d, code in batch])
        _insert(conn, Item.__table__, ITEM_COLUMNS, [
            (oid, i.barcode, i.title) for oid, d, _ in batch for i in d.new.items])
        _insert(conn, AuditEvent.__table__, AUDIT_COLUMNS, [
            (oid, now, actor.name, actor.station, "created", received, received,
             audit.detail("items", num=len(d.new.items), **origin)) for oid, d, _ in batch])
        if on_created:
            on_created(session, [CreatedOrder(oid, d.new.ref, d.new.branch, code)
                                 for oid, d, code in batch])
        if order_events.listening():  # the webhooks' outbox, in this same transaction
            order_events.changed(session, [order_events.OrderChange(
                order_id=oid, status=received, previous=None, ref=d.new.ref,
                branch=d.new.branch, pickup_code=code, slot=None, last_day=None,
                station=actor.station, card=d.new.card, patron_name=d.new.patron_name)
                for oid, d, code in batch])
        if progress:
            progress(min(start + BATCH, len(drafts)), len(drafts))
    return ids


ORDER_COLUMNS = ("id", "ref", "card", "branch", "patron_name", "status", "pickup_code",
                 "source", "created_at", "updated_at")
ITEM_COLUMNS = ("order_id", "barcode", "title")
AUDIT_COLUMNS = ("order_id", "at", "actor", "station", "action", "from_status", "to_status",
                 "detail")


def _begin_writing(conn: Connection) -> None:
    """On SQLite, take the write lock now: codes and ids read next stay ours until commit.

    (Python's sqlite3 would begin only at the first INSERT, after those reads.)
    """
    raw = conn.connection.dbapi_connection
    if isinstance(raw, sqlite3.Connection) and not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


def _new_ids(conn: Connection, count: int) -> list[int]:
    """Reserve count order ids: from the sequence (PostgreSQL) or past the highest (SQLite)."""
    if conn.dialect.name == "postgresql":
        return list(conn.scalars(
            text("SELECT nextval(pg_get_serial_sequence('orders', 'id')) "
                 "FROM generate_series(1, :n)"), {"n": count}))
    first = (conn.scalar(select(func.max(Order.id))) or 0) + 1  # under the write lock
    return list(range(first, first + count))


def _stored(conn: Connection, column: Column, value: Any) -> Any:
    """Return value as the driver is given it for column (SQLite keeps datetimes as text)."""
    process = column.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return process(value) if process else value


def _insert(conn: Connection, table: Table, columns: tuple[str, ...],
            rows: list[tuple]) -> None:
    """Insert rows (tuples in the order of columns) the fastest way the database offers."""
    if not rows:
        return
    names = ", ".join(columns)  # our own column names, never input
    if conn.dialect.name == "postgresql":
        statement = f"COPY {table.name} ({names}) FROM STDIN"
        dbapi = conn.dialect.loaded_dbapi
        try:
            cursor = conn.connection.dbapi_connection.cursor()
            with cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except dbapi.Error as exc:  # as SQLAlchemy's own errors, e.g. IntegrityError
            raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc
    else:  # SQLite (the station runs on SQLite or PostgreSQL only): executemany
        marks = ", ".join("?" * len(columns))
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
