"""The library's branches: which branch names an import or a correction may use.

Known are the configured `[station] branches`, this station's own branch, every branch
with a shelf wall in this (possibly shared) database, and every branch whose orders have
been on a shelf: such a branch has a station shelving bags. Ready, collected and expired
are the statuses only a shelf leads to, so the `(status, branch)` index answers "is X
known?" with a few seeks; listing them all (for a message or a menu) reads that index through.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.models import Order, OrderStatus, Shelf

SHELVED = (OrderStatus.READY.value, OrderStatus.COLLECTED.value, OrderStatus.EXPIRED.value)


class KnownBranches(Collection[str]):
    """The known branches: `in` asks the database per branch, iterating lists them all."""

    def __init__(self, session: Session, configured: Iterable[str], own: str):
        self._session = session
        self._fixed = {*configured, own}
        self._asked: dict[str, bool] = {}
        self._all: set[str] | None = None

    def __contains__(self, branch: object) -> bool:
        if not isinstance(branch, str):
            return False
        if branch in self._fixed:
            return True
        if branch not in self._asked:
            self._asked[branch] = self._session.scalar(
                select(Shelf.id).where(Shelf.branch == branch).limit(1)) is not None or (
                self._session.scalar(select(Order.id).where(
                    Order.status.in_(SHELVED), Order.branch == branch).limit(1)) is not None)
        return self._asked[branch]

    def everything(self) -> set[str]:
        """Return every known branch (reads the index of orders by status and branch)."""
        if self._all is None:
            self._all = (self._fixed
                         | set(self._session.scalars(select(Shelf.branch).distinct()))
                         | set(self._session.scalars(
                             select(Order.branch).where(Order.status.in_(SHELVED)).distinct())))
        return self._all

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.everything()))

    def __len__(self) -> int:
        return len(self.everything())


def known_branches(session: Session, configured: Iterable[str], own: str) -> KnownBranches:
    """Return the library's known branches (see the module's docstring)."""
    return KnownBranches(session, configured, own)


def branch_name(branch: str) -> str:
    """Return a branch as people read it: "bekkestua" as "Bekkestua", other names as they are."""
    return branch[:1].upper() + branch[1:] if branch.islower() else branch
