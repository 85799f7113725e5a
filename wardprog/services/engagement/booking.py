"""Booking an engagement event's slot: the ward's preferences, the site's rooms and facilitators,
the trust's other events, and the slot finder over them (no weekend, no bank holiday, no clash)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.errors import SchedulingError
from wardprog.models import Site, Ward
from wardprog.models.engagement import (
    EngagementEvent,
    EventStatus,
    Facilitator,
    WardEngagementPreference,
)
from wardprog.rules.slots import (
    DEFAULT_PREFERRED_STARTS,
    Booking,
    FacilitatorAvailability,
    Room,
    Slot,
    SlotRequest,
    booking_window,
    find_slot,
    find_slots,
    parse_hhmm,
    to_utc,
)
from wardprog.rules.working_days import england_bank_holidays
from wardprog.services.context import require_id
from wardprog.services.venues import active_facilitators, active_venues


def existing_bookings(
    session: Session,
    exclude_event_id: int | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> list[Booking]:
    """Every scheduled engagement event in the trust, as the slot finder sees them.

    With ``window`` (``rules.slots.booking_window``), only the events that overlap it: the
    only ones a slot in it can clash with or be spread against. Read as columns: a national
    rollout's wards each ask, and the trust's events number in the thousands.
    """
    event = EngagementEvent
    query = (
        sa.select(
            col(event.id),
            col(event.starts_at),
            col(event.ends_at),
            col(Ward.site_id),
            col(event.venue_id),
            col(event.facilitator_id),
        )
        .join(Ward, col(Ward.id) == col(event.ward_id))
        .where(col(event.status) == EventStatus.scheduled)
    )
    if window is not None:
        # Compared in UTC: SQLite stores the instants as UTC text.
        lo, hi = (moment.astimezone(UTC) for moment in window)
        query = query.where(col(event.starts_at) < hi, col(event.ends_at) > lo)
    return [
        Booking(
            starts_at=to_utc(starts_at),
            ends_at=to_utc(ends_at),
            site_id=site_id,
            room_id=venue_id,
            facilitator_id=facilitator_id,
        )
        for event_id, starts_at, ends_at, site_id, venue_id, facilitator_id in session.execute(
            query
        )
        if event_id != exclude_event_id and starts_at is not None and ends_at is not None
    ]


def preference(session: Session, ward: Ward) -> WardEngagementPreference:
    """The ward's stored preferences, or the defaults (not added to the session)."""
    pref = session.exec(
        select(WardEngagementPreference).where(WardEngagementPreference.ward_id == ward.id)
    ).first()
    return pref or WardEngagementPreference(ward_id=require_id(ward))


def set_ward_preference(
    session: Session,
    ward: Ward,
    preferred_starts: list[str] | None = None,
    avoid_weekdays: list[int] | None = None,
    expected_attendees: int | None = None,
) -> WardEngagementPreference:
    """Record when a ward can release staff (validated before anything is stored)."""
    pref = preference(session, ward)
    if preferred_starts is not None:
        pref.preferred_starts = [parse_hhmm(s).strftime("%H:%M") for s in preferred_starts]
    if avoid_weekdays is not None:
        if any(d not in range(7) for d in avoid_weekdays):
            raise SchedulingError(f"avoid_weekdays must be 0 (Mon)..6 (Sun), got {avoid_weekdays}")
        pref.avoid_weekdays = sorted(set(avoid_weekdays))
    if expected_attendees is not None:
        if expected_attendees < 1:
            raise SchedulingError("expected_attendees must be at least 1")
        pref.expected_attendees = expected_attendees
    session.add(pref)
    session.flush()
    return pref


def _resources(session: Session, site: Site) -> tuple[list[Room], list[FacilitatorAvailability]]:
    return _rooms(session, site), _availability(session)


def _rooms(session: Session, site: Site) -> list[Room]:
    return [
        Room(v.id, v.name, v.capacity) for v in active_venues(session, site) if v.id is not None
    ]


def _availability(
    session: Session, facilitators: Sequence[Facilitator] | None = None
) -> list[FacilitatorAvailability]:
    """The active facilitators' diaries (``facilitators``: the active ones, if already read)."""
    people = active_facilitators(session) if facilitators is None else facilitators
    return [
        FacilitatorAvailability(
            p.id,
            p.name,
            frozenset(p.working_days),
            frozenset(date.fromisoformat(d) for d in p.unavailable_dates),
        )
        for p in people
        if p.id is not None
    ]


def slot_request(
    session: Session,
    settings: Settings,
    ward: Ward,
    site: Site,
    first_day: date,
    last_day: date,
    *,
    starts: tuple[time, ...] | None = None,
    keep: EngagementEvent | None = None,
) -> SlotRequest:
    """What the ward asks of the slot finder between ``first_day`` and ``last_day``.

    ``starts`` replaces the ward's preferred start times (a move to a given time: weekdays the
    ward avoids are then allowed); ``keep`` prefers that event's room and facilitator.
    """
    pref = preference(session, ward)
    preferred = starts or (
        tuple(parse_hhmm(s) for s in pref.preferred_starts) or DEFAULT_PREFERRED_STARTS
    )
    return SlotRequest(
        site_id=require_id(site),
        first_day=first_day,
        last_day=last_day,
        duration=timedelta(minutes=settings.engagement_session_minutes),
        preferred_starts=preferred,
        attendees=pref.expected_attendees,
        avoid_weekdays=frozenset(pref.avoid_weekdays) if starts is None else frozenset(),
        ward_code=ward.code,
        keep_room_id=keep.venue_id if keep else None,
        keep_facilitator_id=keep.facilitator_id if keep else None,
    )


def find_slot_for(
    session: Session, site: Site, request: SlotRequest, *, exclude_event_id: int | None = None
) -> Slot:
    """The slot for ``request`` (:func:`slot_request`) on ``site`` (SchedulingError if none).

    ``exclude_event_id`` leaves the event being moved out of the bookings it must not clash
    with.
    """
    rooms, people = _resources(session, site)
    bank_holidays = england_bank_holidays(request.first_day - timedelta(days=7), request.last_day)
    window = booking_window(request.first_day, request.last_day)
    bookings = existing_bookings(session, exclude_event_id, window)
    return find_slot(request, rooms, people, bookings, bank_holidays)


def find_slots_for(
    session: Session,
    requests: Sequence[tuple[Site, SlotRequest]],
    facilitators: Sequence[Facilitator] | None = None,
) -> list[Slot | SchedulingError]:
    """Slots for many wards at once, in order, each after the ones before it (``find_slots``).

    The trust's bookings over the requests' windows, each site's rooms and the facilitators are
    read once for them all, not once per ward (nor the facilitators once per site: a region's
    300 sites share its facilitators). ``facilitators``: the active ones, if already read.
    """
    if not requests:
        return []
    first = min(r.first_day for _, r in requests)
    last = max(r.last_day for _, r in requests)
    lo = min(booking_window(r.first_day, r.last_day)[0] for _, r in requests)
    hi = max(booking_window(r.first_day, r.last_day)[1] for _, r in requests)
    rooms_of_site: dict[int, list[Room]] = {}
    for site, _ in requests:
        if require_id(site) not in rooms_of_site:
            rooms_of_site[require_id(site)] = _rooms(session, site)
    people = _availability(session, facilitators)
    bank_holidays = england_bank_holidays(first - timedelta(days=7), last)
    bookings = existing_bookings(session, window=(lo, hi))
    return find_slots([r for _, r in requests], rooms_of_site, people, bookings, bank_holidays)


def slot_plan(slot: Slot) -> dict[str, Any]:
    """A slot as plain values, to hand from the wave's deciding step to the ward's own task."""
    person = slot.facilitator
    return {
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "room": [slot.room.id, slot.room.name, slot.room.capacity],
        "facilitator": [person.id, person.name, sorted(person.working_days),
                        sorted(d.isoformat() for d in person.unavailable)],
    }  # fmt: skip


def planned_slot(plan: Mapping[str, Any]) -> Slot:
    """:func:`slot_plan` back into the slot it was made from."""
    room_id, room_name, capacity = plan["room"]
    person_id, name, working_days, unavailable = plan["facilitator"]
    return Slot(
        starts_at=datetime.fromisoformat(plan["starts_at"]),
        ends_at=datetime.fromisoformat(plan["ends_at"]),
        room=Room(room_id, room_name, capacity),
        facilitator=FacilitatorAvailability(
            person_id,
            name,
            frozenset(working_days),
            frozenset(date.fromisoformat(d) for d in unavailable),
        ),
    )
