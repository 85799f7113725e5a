"""The wardprog error family: every error a user can act on names what to fix."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class WardprogError(Exception):
    """Base class for errors wardprog reports to a user (CLI exits non-zero with the message)."""


class ConfigError(WardprogError):
    """A setting is missing or inconsistent."""


@dataclass(frozen=True)
class RowProblem:
    """One bad cell: ``row`` is the 1-based line/row number as a spreadsheet user sees it."""

    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


@dataclass
class InputFileError(WardprogError):
    """A file a user supplied is invalid; nothing from it has been written.

    Collects every problem found so a user can fix the whole file in one pass rather than
    discovering errors one at a time.
    """

    path: Path | str
    problems: list[RowProblem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return f"{self.path}: {self.problems[0]}; nothing was imported"
        shown = self.problems[:20]
        lines = [f"{self.path}: {len(self.problems)} problem(s); nothing was imported"]
        lines += [f"  - {p}" for p in shown]
        if len(self.problems) > len(shown):
            lines.append(f"  ... and {len(self.problems) - len(shown)} more")
        return "\n".join(lines)


class ConflictError(WardprogError):
    """A request contradicts what is already recorded (or itself); the message says which."""


class NotFoundError(WardprogError):
    """A named ward, wave, cohort or other record does not exist."""


class SchedulingError(WardprogError):
    """No slot, cohort or date satisfies the constraints; the message says which ones bit."""
