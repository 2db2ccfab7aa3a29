"""Import orders from CSV or JSON: check everything first, then write all or nothing.

The file is read and checked in `kiosk.domain.import_files`; here the refs are
checked against the database too. `preview` reads and checks without writing
(for a staff page); `import_orders` writes in one transaction or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.domain import shelving
from kiosk.domain.cards import CardReader
from kiosk.domain.import_files import (
    Draft,
    Preview,
    Problem,
    Source,
    detect_format,
    read_orders,
    read_source,
)
from kiosk.domain.orders import Actor, OrderError, create_order
from kiosk.models import Order

Progress = Callable[[int, int], None]


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
        super().__init__(f"{len(problems)} problem(s); nothing imported")
        self.problems = problems


def check_refs(session: Session, drafts: list[Draft]) -> list[Problem]:
    """Return a problem for each ref used twice in drafts or present in the database."""
    problems: list[Problem] = []
    seen: dict[str, Draft] = {}
    for d in drafts:
        ref = d.new.ref
        if ref and ref in seen:
            problems.append(Problem(f"ref {ref} is used by another order in this file",
                                    line=d.line, order=d.order, column="ref"))
        elif ref:
            seen[ref] = d
    refs = list(seen)
    for i in range(0, len(refs), 500):
        for ref in session.scalars(select(Order.ref).where(Order.ref.in_(refs[i:i + 500]))):
            d = seen[ref]
            problems.append(Problem(f"an order with ref {ref} exists already",
                                    line=d.line, order=d.order,
                                    column="order_ref" if d.line else "ref"))
    return problems


def preview(session: Session, source: Source, cards: CardReader, default_branch: str,
            fmt: str | None = None) -> Preview:
    """Read and check source without writing anything; return orders and problems."""
    try:
        data, name = read_source(source)
    except OSError as exc:
        return Preview(fmt or "?", problems=[Problem(f"cannot read the file: {exc.strerror}")])
    pv = read_orders(data, fmt or detect_format(data, name), cards, default_branch)
    pv.problems += check_refs(session, pv.drafts)
    if not pv.drafts and not pv.problems:
        pv.problems.append(Problem("no orders in the file"))
    pv.problems.sort(key=lambda p: (p.line or 0, p.order or 0))
    return pv


def import_orders(session: Session, source: Source | Preview, actor: Actor, cards: CardReader,
                  default_branch: str, progress: Progress | None = None,
                  fmt: str | None = None) -> ImportResult:
    """Check source, then create every order in one transaction; raise ImportFailed if any is bad.

    Pass a `Preview` already made to skip reading the source again.
    """
    pv = source if isinstance(source, Preview) else preview(session, source, cards,
                                                            default_branch, fmt)
    if not pv.ok:
        raise ImportFailed(pv.problems or [Problem("no orders in the file")])
    total = len(pv.drafts)

    def write() -> list[int]:
        ids = []
        for n, draft in enumerate(pv.drafts, start=1):
            ids.append(create_order(session, draft.new, actor, source="import").id)
            if progress:
                progress(n, total)
        return ids

    try:
        ids = shelving.with_retry(session, write)
    except OrderError as exc:  # e.g. another import took a ref a moment ago
        raise ImportFailed([Problem(str(exc))]) from None
    return ImportResult(orders=total, items=pv.items, per_branch=pv.per_branch, order_ids=ids)
