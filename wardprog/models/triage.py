"""Triage: every problem staff raise, categorised fix / improve / change."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field, json_field, tz_datetime_field


class TriageCategory(StrEnum):
    fix = "fix"  # the ward can do it directly
    improve = "improve"  # a QI project, tracked with the IHI progress score
    change = "change"  # needs resource or permission from outside the ward


class TriageStatus(StrEnum):
    open = "open"
    closed = "closed"


class ChangeDecision(StrEnum):
    """What the directorate / improvement team decided about a `change` request."""

    approve = "approve"  # agreed: the owner puts it in place, then it is closed
    decline = "decline"  # not agreed: closed, and the ward told why
    defer = "defer"  # not yet: reviewed again on the new review date


class TriageItem(SQLModel, table=True):
    # Re-importing the same template must not duplicate items: an item is identified by its
    # ward, wave and normalised issue text.
    __table_args__ = (
        UniqueConstraint("ward_id", "wave_id", "issue_key", name="uq_triage_ward_wave_issue"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ward_id: int = Field(foreign_key="ward.id", index=True)
    wave_id: int = Field(foreign_key="wave.id", index=True)
    issue: str
    issue_key: str = Field(max_length=64)
    raised_by: str | None = Field(default=None, max_length=200)
    category: TriageCategory = Field(max_length=16)
    owner: str = Field(default="", max_length=200)
    # `change` items leave the ward: who they were escalated to (improvement team/directorate).
    escalated_to: str = Field(default="", max_length=200)
    # Where the owner is reached (the owners register), and the ladder's rung for `change`
    # items: "" (not escalated), "matron", "directorate" or "executive", and since when.
    owner_email: str = Field(default="", max_length=320)
    escalation_level: str = Field(default="", max_length=16)
    escalated_on: date | None = None
    # The trust-wide theme the item belongs to (see ``rules.themes``); kept once assigned.
    theme_id: int | None = Field(default=None, foreign_key="theme.id", index=True)
    due_date: date | None = None
    review_date: date | None = None
    status: TriageStatus = Field(default=TriageStatus.open, max_length=16)
    notes: str = ""
    outcome: str = ""
    closed_by: str = Field(default="", max_length=200)
    # `change` items: the latest decision (the action table holds the history).
    decision: ChangeDecision | None = Field(default=None, max_length=16)
    decision_note: str = ""
    decided_by: str = Field(default="", max_length=200)
    decided_on: date | None = None
    # Times the item was reopened: a second close is a new "you said, we did".
    reopened_count: int = 0
    source: str = Field(default="", max_length=500)
    source_row: int | None = None
    created_at: datetime = created_at_field()
    closed_at: datetime | None = tz_datetime_field()


class ThemeStatus(StrEnum):
    open = "open"
    escalated = "escalated"  # raised by many wards: one trust-wide change request sent
    merged = "merged"  # the team merged it into another theme


class Theme(SQLModel, table=True):
    """The same problem raised on several wards, grouped as one (``rules.themes``)."""

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, index=True, max_length=16)
    title: str = Field(max_length=2000)
    status: str = Field(default=ThemeStatus.open.value, max_length=16)
    merged_into_id: int | None = Field(default=None, foreign_key="theme.id")
    escalated_on: date | None = None
    escalated_wards: int | None = None
    created_at: datetime = created_at_field()


class ImprovementScore(SQLModel, table=True):
    """IHI 0.5-5.0 progress score history of an improvement project: who, when, why, evidence.

    One history for every project: an `improve` item's scores carry its item and its project;
    a project started outside the ward programme has only ``project_id``.
    """

    id: int | None = Field(default=None, primary_key=True)
    triage_item_id: int | None = Field(default=None, foreign_key="triageitem.id", index=True)
    project_id: int | None = Field(default=None, foreign_key="improvementproject.id", index=True)
    score: float
    scored_by: str = Field(max_length=200)
    scored_on: date
    justification: str = ""
    # A score of 3.0 or more needs evidence: the measure value 20% of the way to the aim
    # (``evidence_value``), or a note saying why the measure cannot show it yet.
    evidence_value: float | None = None
    evidence_note: str = ""
    created_at: datetime = created_at_field()


class TriageSubmission(SQLModel, table=True):
    """One returned template (file or Prefect form), accepted or rejected: the audit trail.

    The content digest makes a re-dropped copy of an already-processed file a no-op.
    """

    __table_args__ = (
        UniqueConstraint("ward_id", "wave_id", "sha256", name="uq_triage_submission_digest"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ward_id: int = Field(foreign_key="ward.id", index=True)
    wave_id: int = Field(foreign_key="wave.id", index=True)
    source: str = Field(max_length=500)
    sha256: str = Field(max_length=64)
    # accepted | rejected
    status: str = Field(max_length=16)
    items_created: int = 0
    problems: list[dict[str, Any]] = json_field(list)
    received_on: date
    created_at: datetime = created_at_field()
