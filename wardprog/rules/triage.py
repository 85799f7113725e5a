"""Fix / improve / change triage: pure validation and routing rules, no I/O.

At the engagement event staff list what gets in the way; the ward manager sorts each issue:

* **fix** - the ward can sort it itself (a broken drawer, a confusing rota), owned on the ward
  and due within weeks;
* **improve** - needs testing and measurement: a QI project tracked on the IHI 0.5-5.0 progress
  scale, starting at 0.5 ("intent to participate");
* **change** - needs money, estates or permission from outside the ward: escalated to the
  improvement team and the directorate with a named owner and a review date.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from wardprog.errors import RowProblem

CATEGORIES: tuple[str, ...] = ("fix", "improve", "change")

# What staff actually type into the category column.
_CATEGORY_SYNONYMS = {
    "fix": "fix",
    "fixes": "fix",
    "improve": "improve",
    "improvement": "improve",
    "change": "change",
    "escalate": "change",
}

COLUMNS: tuple[str, ...] = ("issue", "raised by", "category", "suggested owner", "notes")
REQUIRED_COLUMNS: tuple[str, ...] = ("issue", "category")

MAX_ISSUE_CHARS = 2000
MAX_NAME_CHARS = 200

# IHI Model for Improvement progress scale (0.5 = intent to participate ... 5.0 = outstanding
# sustainable results). Directorates report it, so only these values are accepted.
IHI_SCORES: dict[float, str] = {
    0.5: "Intent to participate",
    1.0: "Forming team",
    1.5: "Planning for the project has begun",
    2.0: "Activity, but no changes",
    2.5: "Changes tested, but no improvement",
    3.0: "Modest improvement",
    3.5: "Improvement",
    4.0: "Significant improvement",
    4.5: "Sustainable improvement",
    5.0: "Outstanding sustainable results",
}
INITIAL_IHI_SCORE = 0.5


@dataclass(frozen=True)
class RawTriageRow:
    """One data row as read from a template or form; ``row`` is what the user sees."""

    row: int
    issue: str | None
    raised_by: str | None = None
    category: str | None = None
    suggested_owner: str | None = None
    notes: str | None = None

    def is_blank(self) -> bool:
        return not any(
            (v or "").strip()
            for v in (self.issue, self.raised_by, self.category, self.suggested_owner, self.notes)
        )


@dataclass(frozen=True)
class TriageEntry:
    """A validated row, ready to be routed."""

    row: int
    issue: str
    issue_key: str
    category: str
    raised_by: str | None  # None = anonymous: staff may raise issues without their name
    suggested_owner: str | None
    notes: str


@dataclass(frozen=True)
class TriageDefaults:
    fix_due_days: int = 30
    change_review_days: int = 60


@dataclass(frozen=True)
class Routing:
    owner: str
    escalated_to: str
    due_date: date | None
    review_date: date | None
    initial_score: float | None


def _clean(value: str | None) -> str:
    return " ".join((value or "").split())


def normalise_issue(text: str) -> str:
    """Case, spacing and trailing punctuation don't make a different issue."""
    text = " ".join(text.casefold().split())
    return re.sub(r"[\s.!?;:,]+$", "", text)


def issue_key(text: str) -> str:
    return hashlib.sha256(normalise_issue(text).encode("utf-8")).hexdigest()


def parse_category(value: str | None) -> str | None:
    return _CATEGORY_SYNONYMS.get(_clean(value).casefold())


def _anonymous(value: str | None) -> str | None:
    cleaned = _clean(value)
    if cleaned.casefold() in {"", "anon", "anonymous", "-", "n/a", "na", "prefer not to say"}:
        return None
    return cleaned


def validate_rows(rows: Sequence[RawTriageRow]) -> tuple[list[TriageEntry], list[RowProblem]]:
    """Every problem in every row (so staff fix the whole sheet at once), and the good rows.

    Blank rows are skipped (templates come with empty lines); a sheet with no issues at all is a
    problem because it usually means the wrong file was returned.
    """
    entries: list[TriageEntry] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    allowed = ", ".join(CATEGORIES)
    for raw in rows:
        if raw.is_blank():
            continue
        issue = _clean(raw.issue)
        row_ok = True
        if not issue:
            problems.append(
                RowProblem(raw.row, "issue", "is empty; describe the issue or delete the row")
            )
            row_ok = False
        elif len(issue) > MAX_ISSUE_CHARS:
            problems.append(
                RowProblem(
                    raw.row, "issue", f"is {len(issue)} characters; keep it under {MAX_ISSUE_CHARS}"
                )
            )
            row_ok = False
        category = parse_category(raw.category)
        if category is None:
            shown = _clean(raw.category)
            what = f"{shown!r} is not a category" if shown else "is empty"
            problems.append(RowProblem(raw.row, "category", f"{what}; use one of: {allowed}"))
            row_ok = False
        for column, value in (
            ("raised by", raw.raised_by),
            ("suggested owner", raw.suggested_owner),
        ):
            if len(_clean(value)) > MAX_NAME_CHARS:
                problems.append(
                    RowProblem(raw.row, column, f"is longer than {MAX_NAME_CHARS} characters")
                )
                row_ok = False
        if issue:
            key = issue_key(issue)
            if key in seen:
                problems.append(
                    RowProblem(
                        raw.row, "issue", f"duplicates row {seen[key]}; merge them into one row"
                    )
                )
                row_ok = False
            else:
                seen[key] = raw.row
        if row_ok and category is not None:
            entries.append(
                TriageEntry(
                    row=raw.row,
                    issue=issue,
                    issue_key=issue_key(issue),
                    category=category,
                    raised_by=_anonymous(raw.raised_by),
                    suggested_owner=_clean(raw.suggested_owner) or None,
                    notes=(raw.notes or "").strip(),
                )
            )
    if not entries and not problems:
        problems.append(RowProblem(None, None, "no issues were filled in; add at least one row"))
    return entries, problems


def route(
    entry: TriageEntry, *, ward_manager: str, as_of: date, defaults: TriageDefaults
) -> Routing:
    """Who owns an item, and by when, by category."""
    if entry.category == "fix":
        return Routing(
            owner=entry.suggested_owner or ward_manager,
            escalated_to="",
            due_date=as_of + timedelta(days=defaults.fix_due_days),
            review_date=None,
            initial_score=None,
        )
    if entry.category == "improve":
        return Routing(
            owner=entry.suggested_owner or ward_manager,
            escalated_to="",
            due_date=None,
            review_date=None,
            initial_score=INITIAL_IHI_SCORE,
        )
    if entry.category == "change":
        # A change needs a named person outside the ward: the ward's matron from the owners
        # register (the service assigns them) unless the ward named someone.
        return Routing(
            owner=entry.suggested_owner or "",
            escalated_to="",
            due_date=None,
            review_date=as_of + timedelta(days=defaults.change_review_days),
            initial_score=None,
        )
    raise ValueError(f"unknown triage category {entry.category!r}")


def check_ihi_score(score: float) -> float:
    """0.5-5.0 in 0.5 steps, or ValueError naming the allowed values."""
    if score not in IHI_SCORES:
        allowed = ", ".join(f"{s:g}" for s in IHI_SCORES)
        raise ValueError(f"IHI score {score!r} is not on the scale; use one of {allowed}")
    return float(score)


def check_score_entry(score: float, scored_by: str, justification: str) -> float:
    """An IHI score as it is recorded: on the scale, with who scored it and why.

    The same rule for an item's project and a project of its own; ValueError otherwise.
    """
    score = check_ihi_score(score)
    if not scored_by.strip():
        raise ValueError("An IHI score needs the name of who scored it")
    if not justification.strip():
        raise ValueError("An IHI score needs a justification (what evidence supports it)")
    return score


def overdue_since(due: date | None, review: date | None, as_of: date) -> date | None:
    """The date an open item fell due (fix) or needed review (change), if that has passed."""
    for when in (due, review):
        if when is not None and when < as_of:
            return when
    return None


def iso_week(as_of: date) -> str:
    year, week, _ = as_of.isocalendar()
    return f"{year}-W{week:02d}"
