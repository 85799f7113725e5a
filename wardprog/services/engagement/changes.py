"""What happens to a booked event: moved, held, cancelled; its history and how to find it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session, col, select

from wardprog.config import Settings, get_settings
from wardprog.errors import NotFoundError, SchedulingError
from wardprog.models import Ward, Wave
from wardprog.models.engagement import EngagementEvent, EngagementEventChange, EventStatus
from wardprog.rules.slots import LONDON, to_utc
from wardprog.services.context import require_id
from wardprog.services.engagement.booking import find_slot_for, slot_request
from wardprog.services.engagement.invites import load_event, send_cancellation, send_invite


def _as_london(value: datetime) -> datetime:
    """A coordinator typing 14:00 means 14:00 on the ward clock."""
    return value.replace(tzinfo=LONDON) if value.tzinfo is None else value.astimezone(LONDON)


def _log_change(
    session: Session,
    ev: EngagementEvent,
    action: str,
    reason: str,
    old_start: datetime | None,
    new_start: datetime | None = None,
) -> None:
    """The event's next SEQUENCE, with the change that made it in the event's history."""
    ev.sequence += 1
    session.add(ev)
    session.add(
        EngagementEventChange(
            event_id=require_id(ev),
            action=action,
            old_starts_at=old_start,
            new_starts_at=new_start,
            reason=reason,
            sequence=ev.sequence,
        )
    )
    session.flush()


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
    parts = load_event(session, event_id)
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
    request = slot_request(
        session,
        settings,
        parts.ward,
        parts.site,
        start.date(),
        start.date(),
        starts=(start.time(),),
        keep=ev,
    )
    slot = find_slot_for(session, parts.site, request, exclude_event_id=ev.id)
    old_start = ev.starts_at
    ev.starts_at = slot.starts_at.astimezone(UTC)
    ev.ends_at = slot.ends_at.astimezone(UTC)
    ev.venue_id = slot.room.id
    ev.facilitator_id = slot.facilitator.id
    _log_change(session, ev, "reschedule", reason, old_start, ev.starts_at)
    send_invite(session, load_event(session, event_id), as_of, reason)
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
    parts = load_event(session, event_id)
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
    parts = load_event(session, event_id)
    ev = parts.event
    if ev.status is EventStatus.cancelled:
        return ev
    if ev.status is EventStatus.held:
        raise SchedulingError(
            f"Engagement event for ward {parts.ward.code} has already been held; it cannot be "
            "cancelled"
        )
    ev.status = EventStatus.cancelled
    # RFC 5546: a CANCEL carries a higher SEQUENCE than the last request.
    _log_change(session, ev, "cancel", reason, ev.starts_at)
    send_cancellation(session, load_event(session, event_id), as_of, reason)
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
