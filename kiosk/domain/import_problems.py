"""What reading an order file finds: its orders (drafts), problems and notices.

Problems are templates marked with N_ and params (English in str(), translated on the
staff pages); a preview keeps the first MAX_PROBLEMS and counts the rest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from kiosk.domain.messages import fill, sentence_start
from kiosk.domain.orders import NewOrder


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input: where (line or order number), which column, what.

    problem is a template (marked N_) filled from params; ref is the order ref of the
    row or order the problem is in, when it has one.
    """

    problem: str
    line: int | None = None
    column: str | None = None
    order: int | None = None  # position in a JSON list, from 1
    ref: str | None = None
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def text(self) -> str:
        """The problem in English, params filled in."""
        return fill(self.problem, self.params)

    def __str__(self) -> str:
        where = [f"Line {self.line}" if self.line else "",
                 f"order {self.ref}" if self.ref else f"order {self.order}" if self.order else "",
                 f"column {self.column}" if self.column else ""]
        prefix = sentence_start(", ".join(w for w in where if w))
        return f"{prefix}: {self.text}" if prefix else self.text

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "order": self.order, "ref": self.ref,
                "column": self.column, "problem": self.text}


@dataclass(frozen=True)
class Notice:
    """Something read past that staff should know of (a title row, columns ignored)."""

    notice: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        return fill(self.notice, self.params)


@dataclass(slots=True)  # 100,000 of them in a big import
class Draft:
    """An order read from the input, with where it started (for problem reports)."""

    new: NewOrder
    line: int | None = None
    order: int | None = None
    lines: dict[str, int] = field(default_factory=dict)  # barcode → line
    branch_column: str | None = None  # the branch column's name in the file


MAX_PROBLEMS = 1000  # listed in a preview; past them, only counted


class Problems(list):
    """A preview's problems: the first MAX_PROBLEMS kept, the rest only counted in more.

    A file with a bad value in a million rows makes a page (and a memory) of a thousand
    problems and "and 999,000 more", not of a million.
    """

    def __init__(self, problems: Any = ()):
        super().__init__()
        self.more = 0
        self.extend(problems)

    def append(self, problem: Problem) -> None:
        if len(self) < MAX_PROBLEMS:
            super().append(problem)
        else:
            self.more += 1

    def extend(self, problems: Any) -> None:
        for problem in problems:
            self.append(problem)

    def __iadd__(self, problems: Any) -> Problems:
        self.extend(problems)
        return self


@dataclass
class Preview:
    """What an import would do: the orders read and every problem found."""

    format: str
    drafts: list[Draft] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=Problems)
    encoding: str | None = None  # of a text file, as detected
    delimiter: str | None = None  # of a CSV file, as detected
    labels: dict[str, str] = field(default_factory=dict)  # column → its name in the file
    width: int = 0  # columns in the header
    notices: list[Notice] = field(default_factory=list)  # what was read past, not problems
    name: str = ""  # the file's name, as uploaded or given
    sha256: str = ""  # of the file's bytes: the same file imported again is recognised

    def __post_init__(self) -> None:
        if not isinstance(self.problems, Problems):
            self.problems = Problems(self.problems)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.drafts)

    @property
    def problem_count(self) -> int:
        """All problems found, those listed and those only counted."""
        return len(self.problems) + getattr(self.problems, "more", 0)

    @property
    def items(self) -> int:
        return sum(len(d.new.items) for d in self.drafts)

    @property
    def per_branch(self) -> dict[str, int]:
        return dict(Counter(d.new.branch for d in self.drafts))
