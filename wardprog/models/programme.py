"""The programme, its quarterly waves and each ward's enrolment through the four stages."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field, tz_datetime_field


class WaveStatus(StrEnum):
    planned = "planned"
    launched = "launched"
    complete = "complete"


class Stage(StrEnum):
    """Where a ward is in its wave, in order; each stage records when it finished."""

    enrolled = "enrolled"
    diagnostic = "diagnostic"
    engagement = "engagement"
    triage = "triage"
    qsir = "qsir"
    complete = "complete"


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


class Programme(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    start_date: date
    wave_length_months: int = 3
    wards_per_site_per_wave: int = 5
    created_at: datetime = created_at_field()


class Wave(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("programme_id", "number", name="uq_wave_programme_number"),)

    id: int | None = Field(default=None, primary_key=True)
    programme_id: int = Field(foreign_key="programme.id", index=True)
    number: int
    quarter_start: date
    quarter_end: date
    status: WaveStatus = Field(default=WaveStatus.planned, max_length=16)
    launched_at: datetime | None = tz_datetime_field()
    completed_at: datetime | None = tz_datetime_field()


class WardEnrolment(SQLModel, table=True):
    """A ward's place in the programme: each ward is enrolled in exactly one wave."""

    __table_args__ = (UniqueConstraint("ward_id", name="uq_enrolment_ward"),)

    id: int | None = Field(default=None, primary_key=True)
    ward_id: int = Field(foreign_key="ward.id", index=True)
    wave_id: int = Field(foreign_key="wave.id", index=True)
    stage: Stage = Field(default=Stage.enrolled, max_length=16)
    enrolled_at: datetime = created_at_field()
    diagnostic_at: datetime | None = tz_datetime_field()
    engagement_at: datetime | None = tz_datetime_field()
    triage_at: datetime | None = tz_datetime_field()
    qsir_at: datetime | None = tz_datetime_field()
    completed_at: datetime | None = tz_datetime_field()
