"""Engagement events: where ward staff share their issues, and the rooms/people they need."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field, tz_datetime_field


class EventStatus(StrEnum):
    scheduled = "scheduled"
    cancelled = "cancelled"
    held = "held"


class Venue(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("site_id", "name", name="uq_venue_site_name"),)

    id: int | None = Field(default=None, primary_key=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    name: str = Field(max_length=200)
    capacity: int = 20


class Facilitator(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(unique=True, max_length=320)


class EngagementEvent(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("ward_id", "wave_id", name="uq_event_ward_wave"),)

    id: int | None = Field(default=None, primary_key=True)
    ward_id: int = Field(foreign_key="ward.id", index=True)
    wave_id: int = Field(foreign_key="wave.id", index=True)
    venue_id: int | None = Field(default=None, foreign_key="venue.id")
    facilitator_id: int | None = Field(default=None, foreign_key="facilitator.id")
    starts_at: datetime | None = tz_datetime_field(nullable=False, index=True)
    ends_at: datetime | None = tz_datetime_field(nullable=False)
    status: EventStatus = Field(default=EventStatus.scheduled, max_length=16)
    # iCalendar identity: a stable UID and a SEQUENCE bumped on every reschedule.
    uid: str = Field(unique=True, max_length=200)
    sequence: int = 0
    created_at: datetime = created_at_field()


class EngagementEventChange(SQLModel, table=True):
    """History of reschedules/cancellations: the event row holds only the current state."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="engagementevent.id", index=True)
    action: str = Field(max_length=16)
    old_starts_at: datetime | None = tz_datetime_field()
    new_starts_at: datetime | None = tz_datetime_field()
    reason: str = ""
    sequence: int = 0
    changed_at: datetime = created_at_field()
