"""Engagement events: schedule, invite, reschedule and cancel, in the caller's transaction.

The invite is a calendar request (.ics, Europe/London with VTIMEZONE) for the ward manager and
the facilitator, with the triage template attached so the manager can capture what staff say at
the event. The event's UID never changes; every reschedule bumps SEQUENCE so Outlook updates the
meeting in place instead of adding a second one, and a cancellation goes out as METHOD:CANCEL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from wardprog.config import IMPROVEMENT_TEAM_TAG, Settings, get_settings
from wardprog.errors import NotFoundError, SchedulingError
from wardprog.models import Site, Ward, WardEnrolment, Wave
from wardprog.models.engagement import (
    EngagementEvent,
    EngagementEventChange,
    EventStatus,
    Facilitator,
    Venue,
    WardEngagementPreference,
)
from wardprog.notify.ics import CalendarEvent, build_calendar
from wardprog.notify.outbox import Attachment, enqueue
from wardprog.rules.slots import (
    DEFAULT_PREFERRED_STARTS,
    LONDON,
    Booking,
    FacilitatorAvailability,
    Room,
    Slot,
    SlotRequest,
    engagement_window,
    find_slot,
    parse_hhmm,
    to_utc,
)
from wardprog.rules.working_days import england_bank_holidays
from wardprog.services.context import StageContext, StageOutcome, require_id
from wardprog.services.triage_template import (
    CALENDAR_CONTENT_TYPE,
    CSV_CONTENT_TYPE,
    XLSX_CONTENT_TYPE,
    build_csv,
    build_xlsx,
    template_filename,
)
from wardprog.services.venues import site_resources


def event_uid(ward_code: str, wave_number: int) -> str:
    return f"engagement-{ward_code}-wave{wave_number}@wardprog"


@dataclass(frozen=True)
class _EventParts:
    event: EngagementEvent
    ward: Ward
    site: Site
    wave: Wave
    venue: Venue | None
    facilitator: Facilitator | None


def _load(session: Session, event_id: int) -> _EventParts:
    event = session.get(EngagementEvent, event_id)
    if event is None:
        raise NotFoundError(f"Engagement event {event_id} does not exist")
    ward = session.get(Ward, event.ward_id)
    wave = session.get(Wave, event.wave_id)
    assert ward is not None and wave is not None
    site = session.get(Site, ward.site_id)
    assert site is not None
    venue = session.get(Venue, event.venue_id) if event.venue_id else None
    person = session.get(Facilitator, event.facilitator_id) if event.facilitator_id else None
    return _EventParts(event, ward, site, wave, venue, person)


def existing_bookings(session: Session, exclude_event_id: int | None = None) -> list[Booking]:
    """Every scheduled engagement event in the trust, as the slot finder sees them."""
    rows = session.exec(
        select(EngagementEvent, Ward.site_id)
        .join(Ward, col(Ward.id) == col(EngagementEvent.ward_id))
        .where(EngagementEvent.status == EventStatus.scheduled)
    ).all()
    return [
        Booking(
            starts_at=to_utc(ev.starts_at),
            ends_at=to_utc(ev.ends_at),
            site_id=site_id,
            room_id=ev.venue_id,
            facilitator_id=ev.facilitator_id,
        )
        for ev, site_id in rows
        if ev.id != exclude_event_id and ev.starts_at is not None and ev.ends_at is not None
    ]


def _preference(session: Session, ward: Ward) -> WardEngagementPreference:
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
    pref = session.exec(
        select(WardEngagementPreference).where(WardEngagementPreference.ward_id == ward.id)
    ).first() or WardEngagementPreference(ward_id=require_id(ward))
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
    venues, people = site_resources(session, site)
    rooms = [Room(v.id, v.name, v.capacity) for v in venues if v.id is not None]
    avail = [
        FacilitatorAvailability(
            p.id,
            p.name,
            frozenset(p.working_days),
            frozenset(date.fromisoformat(d) for d in p.unavailable_dates),
        )
        for p in people
        if p.id is not None
    ]
    return rooms, avail


def _invite_stamp(as_of: date) -> datetime:
    # DTSTAMP on the programme's clock: a re-rendered invite is byte-identical, and each
    # reschedule (made on a later or equal as_of) never goes backwards.
    return datetime.combine(as_of, time(9), LONDON)


def _calendar(parts: _EventParts, as_of: date, method: str) -> bytes:
    ev = parts.event
    assert ev.starts_at is not None and ev.ends_at is not None
    location = f"{parts.venue.name}, {parts.site.name}" if parts.venue else parts.site.name
    attendees = tuple(a for a in (parts.ward.manager_email,) if a)
    return build_calendar(
        [
            CalendarEvent(
                uid=ev.uid,
                summary=f"Ward improvement engagement event - {parts.ward.name}",
                starts_at=to_utc(ev.starts_at),
                ends_at=to_utc(ev.ends_at),
                location=location,
                description=(
                    "A 90-minute session for ward staff to go through the diagnostic pack and "
                    "say what gets in the way of good care. Please bring the triage template."
                    if method == "REQUEST"
                    else "This engagement event has been cancelled."
                ),
                sequence=ev.sequence,
                organizer=parts.facilitator.email if parts.facilitator else None,
                attendees=attendees,
                stamp=_invite_stamp(as_of),
            )
        ],
        method=method,
    )


def _message_context(parts: _EventParts, reason: str = "") -> dict[str, object]:
    ev = parts.event
    assert ev.starts_at is not None and ev.ends_at is not None
    return {
        "ward_name": parts.ward.name,
        "ward_code": parts.ward.code,
        "site_name": parts.site.name,
        "manager_name": parts.ward.manager_name or "Ward manager",
        "wave_number": parts.wave.number,
        "starts_at": to_utc(ev.starts_at).astimezone(LONDON),
        "ends_at": to_utc(ev.ends_at).astimezone(LONDON),
        "venue_name": parts.venue.name if parts.venue else "",
        "facilitator_name": parts.facilitator.name if parts.facilitator else "",
        "facilitator_email": parts.facilitator.email if parts.facilitator else "",
        "sequence": ev.sequence,
        "is_update": ev.sequence > 0,
        "reason": reason,
    }


def _recipients(parts: _EventParts) -> list[str]:
    emails = [parts.ward.manager_email]
    if parts.facilitator is not None:
        emails.append(parts.facilitator.email)
    return [e for e in emails if e]


def _tags(parts: _EventParts) -> list[str]:
    return [parts.ward.code, parts.site.code, IMPROVEMENT_TEAM_TAG]


def _send_invite(session: Session, parts: _EventParts, as_of: date, reason: str = "") -> None:
    ev = parts.event
    attachments = [
        Attachment(
            filename="engagement-event.ics",
            content=_calendar(parts, as_of, "REQUEST"),
            content_type=CALENDAR_CONTENT_TYPE,
        )
    ]
    if ev.sequence == 0:
        # The first invite carries the triage template; updates only move the meeting.
        attachments += [
            Attachment(
                filename=template_filename(parts.ward.code, parts.wave.number, ".xlsx"),
                content=build_xlsx(parts.ward.code, parts.ward.name, parts.wave.number),
                content_type=XLSX_CONTENT_TYPE,
            ),
            Attachment(
                filename=template_filename(parts.ward.code, parts.wave.number, ".csv"),
                content=build_csv(),
                content_type=CSV_CONTENT_TYPE,
            ),
        ]
    enqueue(
        session,
        key=f"engagement_invite:{parts.ward.code}:wave-{parts.wave.number}:v{ev.sequence}",
        kind="engagement_invite",
        tags=_tags(parts),
        context=_message_context(parts, reason),
        ward_code=parts.ward.code,
        recipients=_recipients(parts),
        attachments=attachments,
    )


def _pack_ready(ctx: StageContext) -> date:
    if ctx.enrolment.diagnostic_at is None:
        return ctx.as_of
    return to_utc(ctx.enrolment.diagnostic_at).astimezone(LONDON).date()


def _find(
    session: Session,
    settings: Settings,
    ward: Ward,
    site: Site,
    first_day: date,
    last_day: date,
    *,
    exclude_event_id: int | None = None,
    starts: tuple[time, ...] | None = None,
    keep: EngagementEvent | None = None,
) -> Slot:
    pref = _preference(session, ward)
    rooms, people = _resources(session, site)
    preferred = starts or (
        tuple(parse_hhmm(s) for s in pref.preferred_starts) or DEFAULT_PREFERRED_STARTS
    )
    request = SlotRequest(
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
    bank_holidays = england_bank_holidays(first_day - timedelta(days=7), last_day)
    return find_slot(
        request, rooms, people, existing_bookings(session, exclude_event_id), bank_holidays
    )


def run_engagement_stage(ctx: StageContext) -> StageOutcome:
    """Schedule the ward's engagement event and send the invite with the triage template."""
    session = ctx.session
    event = session.exec(
        select(EngagementEvent).where(
            EngagementEvent.ward_id == ctx.ward.id, EngagementEvent.wave_id == ctx.wave.id
        )
    ).first()
    if event is not None:
        if event.status is EventStatus.held and event.held_on is not None:
            return StageOutcome(
                done=True,
                summary=f"engagement event held on {event.held_on:%a %d %b %Y}",
                details={**_details(event), "completed_on": event.held_on},
            )
        return StageOutcome(
            done=False,
            summary=f"waiting: engagement event {event.status.value}, not yet recorded as held",
            details=_details(event),
        )
    pack_ready = _pack_ready(ctx)
    first_day, last_day = engagement_window(
        quarter_start=ctx.wave.quarter_start,
        start_days=ctx.settings.engagement_window_start_days,
        end_days=ctx.settings.engagement_window_end_days,
        pack_ready=pack_ready,
        as_of=ctx.as_of,
        bank_holidays=england_bank_holidays(pack_ready, pack_ready + timedelta(days=14)),
    )
    missing = _missing_resources(session, ctx.site)
    if missing:
        _ask_team_to_register(ctx, missing)
        return StageOutcome(
            done=False,
            summary=f"waiting: no {' or '.join(missing)} registered for site {ctx.site.code}",
        )
    slot = _find(session, ctx.settings, ctx.ward, ctx.site, first_day, last_day)
    event = EngagementEvent(
        ward_id=require_id(ctx.ward),
        wave_id=require_id(ctx.wave),
        venue_id=slot.room.id,
        facilitator_id=slot.facilitator.id,
        starts_at=slot.starts_at.astimezone(UTC),
        ends_at=slot.ends_at.astimezone(UTC),
        uid=event_uid(ctx.ward.code, ctx.wave.number),
    )
    session.add(event)
    session.flush()
    _send_invite(session, _load(session, require_id(event)), ctx.as_of)
    local = slot.starts_at.astimezone(LONDON)
    # Invited, not engaged: the stage completes when the event is recorded as held.
    return StageOutcome(
        done=False,
        summary=f"engagement event {local:%a %d %b %Y %H:%M} in {slot.room.name} "
        f"with {slot.facilitator.name}",
        details=_details(event),
    )


def _missing_resources(session: Session, site: Site) -> list[str]:
    venues, people = site_resources(session, site)
    return [name for name, found in (("rooms", venues), ("facilitators", people)) if not found]


def _ask_team_to_register(ctx: StageContext, missing: list[str]) -> None:
    """One message per site and wave: what to register before events can be booked."""
    waiting = ctx.session.exec(
        select(func.count())
        .select_from(WardEnrolment)
        .join(Ward, col(Ward.id) == WardEnrolment.ward_id)
        .where(WardEnrolment.wave_id == ctx.wave.id, Ward.site_id == ctx.site.id)
    ).one()
    enqueue(
        ctx.session,
        key=f"resources_missing:{ctx.site.code}:wave-{ctx.wave.number}:{'+'.join(missing)}",
        kind="resources_missing",
        tags=[IMPROVEMENT_TEAM_TAG],
        context={
            "site_code": ctx.site.code,
            "site_name": ctx.site.name,
            "wave_number": ctx.wave.number,
            "ward_name": ctx.ward.name,
            "ward_count": waiting,
            "missing": missing,
        },
    )


def _details(event: EngagementEvent) -> dict[str, object]:
    return {
        "event_id": event.id,
        "uid": event.uid,
        "starts_at": to_utc(event.starts_at).isoformat() if event.starts_at else None,
        "status": event.status.value,
        "sequence": event.sequence,
    }


def _as_london(value: datetime) -> datetime:
    """A coordinator typing 14:00 means 14:00 on the ward clock."""
    return value.replace(tzinfo=LONDON) if value.tzinfo is None else value.astimezone(LONDON)


def reschedule_event(
    session: Session,
    event_id: int,
    new_start: datetime,
    reason: str,
    as_of: date,
    settings: Settings | None = None,
) -> EngagementEvent:
    """Move an event, keeping its room and facilitator when they are free at the new time.

    Checks the same rules as scheduling (working day, no clash) but not the window: a
    coordinator may deliberately move an event late. Idempotent: moving to the current start
    changes nothing.
    """
    settings = settings or get_settings()
    parts = _load(session, event_id)
    ev = parts.event
    if ev.status is not EventStatus.scheduled:
        raise SchedulingError(
            f"Engagement event for ward {parts.ward.code} is {ev.status.value}; "
            "only scheduled events can be moved"
        )
    start = _as_london(new_start)
    assert ev.starts_at is not None
    if to_utc(ev.starts_at) == start.astimezone(UTC):
        return ev
    if start.date() <= as_of:
        raise SchedulingError(
            f"Cannot move ward {parts.ward.code}'s event to {start:%a %d %b %Y}: "
            f"staff need notice, choose a day after {as_of:%d %b %Y}"
        )
    slot = _find(
        session,
        settings,
        parts.ward,
        parts.site,
        start.date(),
        start.date(),
        exclude_event_id=ev.id,
        starts=(start.time(),),
        keep=ev,
    )
    old_start = ev.starts_at
    ev.starts_at = slot.starts_at.astimezone(UTC)
    ev.ends_at = slot.ends_at.astimezone(UTC)
    ev.venue_id = slot.room.id
    ev.facilitator_id = slot.facilitator.id
    ev.sequence += 1
    session.add(ev)
    session.add(
        EngagementEventChange(
            event_id=require_id(ev),
            action="reschedule",
            old_starts_at=old_start,
            new_starts_at=ev.starts_at,
            reason=reason,
            sequence=ev.sequence,
        )
    )
    session.flush()
    _send_invite(session, _load(session, event_id), as_of, reason)
    return ev


def record_event_held(
    session: Session,
    event_id: int,
    held_on: date,
    as_of: date,
    *,
    attendees: int | None = None,
    names: list[str] | None = None,
    facilitator: str = "",
) -> tuple[EngagementEvent, bool]:
    """Record that the event took place: when, who came, who facilitated.

    Returns the event and whether this call changed it (recording the same again is a no-op;
    a correction of the count, names or facilitator updates them). The date cannot be before
    the event was due nor after today, and a cancelled event cannot have been held.
    """
    parts = _load(session, event_id)
    ev = parts.event
    code = parts.ward.code
    if ev.status is EventStatus.cancelled:
        raise SchedulingError(f"Engagement event for ward {code} was cancelled; it was not held")
    assert ev.starts_at is not None
    due = to_utc(ev.starts_at).astimezone(LONDON).date()
    if held_on < due:
        raise SchedulingError(
            f"ward {code}'s event is on {due:%a %d %b %Y}; it cannot have been held on "
            f"{held_on:%d %b %Y} (reschedule it instead)"
        )
    if held_on > as_of:
        raise SchedulingError(f"{held_on:%d %b %Y} is in the future; record it on the day")
    names = [n.strip() for n in (names or []) if n.strip()]
    count = attendees if attendees is not None else (len(names) or None)
    if count is None:
        raise SchedulingError("say how many attended (a count or their names)")
    if count < len(names):
        raise SchedulingError(f"{len(names)} names given but only {count} attendees")
    facilitator = facilitator.strip() or (parts.facilitator.name if parts.facilitator else "")
    values = (EventStatus.held, held_on, count, names, facilitator[:200])
    current = (ev.status, ev.held_on, ev.attendees_count, ev.attendee_names, ev.held_facilitator)
    if values == current:
        return ev, False
    if ev.status is EventStatus.held and ev.held_on != held_on:
        raise SchedulingError(
            f"ward {code}'s event is already recorded as held on {ev.held_on:%d %b %Y}"
        )
    ev.status, ev.held_on, ev.attendees_count, ev.attendee_names, ev.held_facilitator = values
    session.add(ev)
    session.flush()
    return ev, True


def cancel_event(session: Session, event_id: int, reason: str, as_of: date) -> EngagementEvent:
    """Cancel an event and send METHOD:CANCEL; cancelling twice changes nothing."""
    parts = _load(session, event_id)
    ev = parts.event
    if ev.status is EventStatus.cancelled:
        return ev
    if ev.status is EventStatus.held:
        raise SchedulingError(
            f"Engagement event for ward {parts.ward.code} has already been held; it cannot be "
            "cancelled"
        )
    ev.status = EventStatus.cancelled
    ev.sequence += 1  # RFC 5546: a CANCEL carries a higher SEQUENCE than the last request
    session.add(ev)
    session.add(
        EngagementEventChange(
            event_id=require_id(ev),
            action="cancel",
            old_starts_at=ev.starts_at,
            reason=reason,
            sequence=ev.sequence,
        )
    )
    session.flush()
    parts = _load(session, event_id)
    enqueue(
        session,
        key=f"engagement_cancelled:{parts.ward.code}:wave-{parts.wave.number}:v{ev.sequence}",
        kind="engagement_cancelled",
        tags=_tags(parts),
        context=_message_context(parts, reason),
        ward_code=parts.ward.code,
        recipients=_recipients(parts),
        attachments=[
            Attachment(
                filename="engagement-event-cancelled.ics",
                content=_calendar(parts, as_of, "CANCEL"),
                content_type=CALENDAR_CONTENT_TYPE,
            )
        ],
    )
    return ev


def event_history(session: Session, event_id: int) -> list[EngagementEventChange]:
    return list(
        session.exec(
            select(EngagementEventChange)
            .where(EngagementEventChange.event_id == event_id)
            .order_by(col(EngagementEventChange.sequence))
        ).all()
    )


def find_event(session: Session, ward_code: str, wave_number: int | None = None) -> EngagementEvent:
    """The ward's engagement event (latest wave unless ``wave_number`` is given)."""
    query = (
        select(EngagementEvent)
        .join(Ward, col(Ward.id) == col(EngagementEvent.ward_id))
        .join(Wave, col(Wave.id) == col(EngagementEvent.wave_id))
        .where(Ward.code == ward_code)
    )
    if wave_number is not None:
        query = query.where(Wave.number == wave_number)
    event = session.exec(query.order_by(col(Wave.number).desc())).first()
    if event is None:
        wave = f" in wave {wave_number}" if wave_number is not None else ""
        raise NotFoundError(f"No engagement event for ward {ward_code}{wave}")
    return event
