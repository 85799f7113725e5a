"""QSIR training: staff, cohorts, nominations and attendance."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import UniqueConstraint, event
from sqlmodel import Field, SQLModel

from wardprog import clock
from wardprog.models.base import created_at_field, json_field, tz_datetime_field


class Course(StrEnum):
    practitioner = "practitioner"  # one day a week for five weeks
    fundamentals = "fundamentals"  # one day


class NominationStatus(StrEnum):
    nominated = "nominated"
    booked = "booked"
    waitlisted = "waitlisted"
    attending = "attending"
    completed = "completed"
    withdrawn = "withdrawn"
    deferred = "deferred"


class StaffMember(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    staff_number: str = Field(unique=True, index=True, max_length=32)
    name: str = Field(max_length=200)
    role: str = Field(default="", max_length=120)
    band: str = Field(default="", max_length=16)
    ward_id: int | None = Field(default=None, foreign_key="ward.id", index=True)
    email: str = Field(default="", max_length=320)


class QsirCohort(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # Stable, human-readable identity, e.g. "QSIR-P-2026-Q2": re-planning finds the same row.
    code: str = Field(unique=True, max_length=32)
    course: Course = Field(default=Course.practitioner, max_length=16)
    start_date: date
    capacity: int = 24
    # ISO dates of the teaching days (five for Practitioner, one for Fundamentals).
    session_dates: list[str] = json_field(list)
    venue: str = Field(default="Trust Education Centre", max_length=200)


class QsirNomination(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("staff_id", "course", name="uq_nomination_staff_course"),)

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staffmember.id", index=True)
    ward_id: int = Field(foreign_key="ward.id", index=True)
    wave_id: int | None = Field(default=None, foreign_key="wave.id", index=True)
    course: Course = Field(default=Course.practitioner, max_length=16)
    cohort_id: int | None = Field(default=None, foreign_key="qsircohort.id", index=True)
    status: NominationStatus = Field(default=NominationStatus.nominated, max_length=16)
    waitlist_position: int | None = None
    approved_by: str | None = Field(default=None, max_length=200)
    reason: str = ""
    project_presented: bool = False
    # The ward's improvement item the nominee's course project works on: its IHI score is the
    # project's score, so one score counts for the ward's project and the QSIR project alike.
    project_item_id: int | None = Field(default=None, foreign_key="triageitem.id", index=True)
    project_presented_on: date | None = None
    nominated_on: date | None = None
    booked_on: date | None = None
    # The date the completion rule was met (the cohort's last day): what "trained to date" counts.
    completed_on: date | None = Field(default=None, index=True)
    # Where the nomination came from: "<file>#row <n>" or "prefect-form:<flow run id>".
    source: str = Field(default="", max_length=500)
    extra: dict[str, Any] = json_field()
    created_at: datetime = created_at_field()
    # When ``status`` last changed, on the engine's clock (set by the listener below): a
    # nominee deferred or withdrawn after a date was still in training on it (queries).
    status_changed_at: datetime | None = tz_datetime_field()


@event.listens_for(QsirNomination.status, "set")
def _status_changed(
    target: QsirNomination, value: NominationStatus, old: object, _initiator: object
) -> None:
    # Every transition, wherever it is made (services, handlers, the demo), is dated once.
    if value != old:
        target.status_changed_at = clock.now()


class QsirAttendance(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("nomination_id", "session_date", name="uq_attendance_session"),
    )

    id: int | None = Field(default=None, primary_key=True)
    nomination_id: int = Field(foreign_key="qsirnomination.id", index=True)
    session_date: date
    attended: bool = False
