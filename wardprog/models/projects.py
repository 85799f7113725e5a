"""Improvement projects (one per `improve` item, or started outside the ward programme), their
PDSA cycles and coaching sessions, and the QI Café and training events staff attend."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field, json_field


class ProjectStatus(StrEnum):
    active = "active"
    completed = "completed"
    stopped = "stopped"  # with a reason


class PpiLevel(StrEnum):
    """Patient and public involvement, on the usual ladder."""

    none = "none"
    informed = "informed"
    consulted = "consulted"
    involved = "involved"
    co_produced = "co_produced"


class PdsaDecision(StrEnum):
    adopt = "adopt"
    adapt = "adapt"
    abandon = "abandon"


class QiEventKind(StrEnum):
    qi_cafe = "qi_cafe"  # monthly, open to all staff
    training = "training"  # QI Fundamentals or similar: attendees count as trained


class ImprovementProject(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # The `improve` triage item it grew from; None for a project started outside the programme.
    triage_item_id: int | None = Field(
        default=None, foreign_key="triageitem.id", unique=True, index=True
    )
    ward_id: int | None = Field(default=None, foreign_key="ward.id", index=True)
    title: str = Field(max_length=200)
    # What, by how much, by when: the statement in words, and the numeric aim a score of 3.0 or
    # more is checked against (its measure, where it starts, where it should get to, by when).
    aim: str = ""
    # A ward diagnostic metric key (measured from the ward's extracts) or the name of the
    # project's own measure (its recorded ProjectMeasurement rows).
    aim_measure: str = Field(default="", max_length=120)
    aim_baseline: float | None = None
    aim_target: float | None = None
    # increase | decrease: which way is better for the measure.
    aim_direction: str = Field(default="", max_length=16)
    aim_by: date | None = None
    # Keys of the ward's diagnostic metrics (wardprog.rules.metrics) the project measures.
    metrics: list[str] = json_field(list)
    team: list[str] = json_field(list)
    sponsor: str = Field(default="", max_length=200)
    lead: str = Field(default="", max_length=200)
    lead_email: str = Field(default="", max_length=320)
    qi_coach: str = Field(default="", max_length=200)
    qi_coach_email: str = Field(default="", max_length=320)
    strategic_aim: str = Field(default="", max_length=200)
    ppi_level: PpiLevel = Field(default=PpiLevel.none, max_length=16)
    ppi_note: str = ""
    co2e_kg: float | None = None
    sustainability_note: str = ""
    status: ProjectStatus = Field(default=ProjectStatus.active, max_length=16, index=True)
    stop_reason: str = ""
    started_on: date
    completed_on: date | None = None
    # The measure chart re-computes its limits from the first adopted change when asked.
    rebase_at_first_adoption: bool = False
    created_at: datetime = created_at_field()


class PdsaCycle(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("project_id", "number", name="uq_pdsa_project_number"),)

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="improvementproject.id", index=True)
    number: int
    started_on: date
    plan: str
    prediction: str = ""
    happened: str = ""
    learned: str = ""
    decision: PdsaDecision | None = Field(default=None, max_length=16)
    decided_on: date | None = None
    recorded_by: str = Field(default="", max_length=200)
    created_at: datetime = created_at_field()


class ProjectMeasurement(SQLModel, table=True):
    """One value of a project's own measure (for aims the ward's extracts do not measure)."""

    __table_args__ = (
        UniqueConstraint("project_id", "measured_on", name="uq_projectmeasurement_day"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="improvementproject.id", index=True)
    measured_on: date
    value: float
    note: str = ""
    recorded_by: str = Field(default="", max_length=200)
    created_at: datetime = created_at_field()


class CoachingSession(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="improvementproject.id", index=True)
    adviser: str = Field(max_length=200)
    held_on: date = Field(index=True)
    minutes: int
    note: str = ""
    created_at: datetime = created_at_field()


class QiEvent(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("kind", "held_on", "topic", name="uq_qievent_day_topic"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: QiEventKind = Field(max_length=16)
    held_on: date = Field(index=True)
    topic: str = Field(max_length=200)
    created_at: datetime = created_at_field()


class QiEventAttendance(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("event_id", "staff_id", name="uq_qievent_attendee"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="qievent.id", index=True)
    staff_id: int = Field(foreign_key="staffmember.id", index=True)
