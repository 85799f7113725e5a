"""Engagement events: where ward staff share their issues, and the rooms/people they need."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field, json_field, tz_datetime_field


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
    # Rooms come and go (refurbishments, decant wards); inactive rooms keep their history.
    active: bool = True


class Facilitator(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(unique=True, max_length=320)
    # Weekdays (0 = Monday) the facilitator works: much of the improvement team is part time.
    working_days: list[int] = json_field(lambda: [0, 1, 2, 3, 4])
    # ISO dates of annual leave, study days and training the facilitator is delivering.
    unavailable_dates: list[str] = json_field(list)
    active: bool = True


class WardEngagementPreference(SQLModel, table=True):
    """When a ward can release staff: defaults to the early/late shift overlap (13:30)."""

    __table_args__ = (UniqueConstraint("ward_id", name="uq_engagement_pref_ward"),)

    id: int | None = Field(default=None, primary_key=True)
    ward_id: int = Field(foreign_key="ward.id", index=True)
    # "HH:MM" local (Europe/London) start times, most preferred first.
    preferred_starts: list[str] = json_field(lambda: ["13:30"])
    # Weekdays (0 = Monday) the ward cannot do, e.g. the consultant ward-round day.
    avoid_weekdays: list[int] = json_field(list)
    expected_attendees: int = 12


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
    # Recorded when the event has taken place (RecordEventHeld): the engagement stage completes
    # then, and the triage template is chased from that day.
    held_on: date | None = None
    attendees_count: int | None = None
    attendee_names: list[str] = json_field(list)
    held_facilitator: str = Field(default="", max_length=200)
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
