"""An engagement event's messages: the invite (.ics REQUEST, the triage template attached to the
first) and the cancellation (.ics CANCEL), to the ward manager and the facilitator.

Times are written in Europe/London with a VTIMEZONE. The event's UID never changes; every
reschedule bumps SEQUENCE so Outlook updates the meeting in place instead of adding a second
one, and a cancellation carries a higher SEQUENCE than the last request (RFC 5546).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlmodel import Session

from wardprog.config import IMPROVEMENT_TEAM_TAG
from wardprog.errors import NotFoundError
from wardprog.models import Site, Ward, Wave
from wardprog.models.engagement import EngagementEvent, Facilitator, Venue
from wardprog.notify.ics import CalendarEvent, build_calendar
from wardprog.notify.outbox import Attachment, enqueue
from wardprog.rules.slots import LONDON, to_utc
from wardprog.services.triage.template import (
    CALENDAR_CONTENT_TYPE,
    CSV_CONTENT_TYPE,
    XLSX_CONTENT_TYPE,
    build_csv,
    build_xlsx,
    template_filename,
)


def event_uid(ward_code: str, wave_number: int) -> str:
    return f"engagement-{ward_code}-wave{wave_number}@wardprog"


@dataclass(frozen=True)
class EventParts:
    """An event with what its messages name: ward, site, wave, room and facilitator."""

    event: EngagementEvent
    ward: Ward
    site: Site
    wave: Wave
    venue: Venue | None
    facilitator: Facilitator | None


def load_event(session: Session, event_id: int) -> EventParts:
    """The event and its parts, read afresh (after a change, so messages show it)."""
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
    return EventParts(event, ward, site, wave, venue, person)


def _invite_stamp(as_of: date) -> datetime:
    # DTSTAMP on the programme's clock: a re-rendered invite is byte-identical, and each
    # reschedule (made on a later or equal as_of) never goes backwards.
    return datetime.combine(as_of, time(9), LONDON)


def _calendar(parts: EventParts, as_of: date, method: str) -> bytes:
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


def _message_context(parts: EventParts, reason: str = "") -> dict[str, object]:
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


def _enqueue(
    session: Session, parts: EventParts, kind: str, reason: str, attachments: list[Attachment]
) -> None:
    """One message about the event to its ward manager and facilitator, once per SEQUENCE."""
    ward, ev = parts.ward, parts.event
    emails = [ward.manager_email, parts.facilitator.email if parts.facilitator else None]
    enqueue(
        session,
        key=f"{kind}:{ward.code}:wave-{parts.wave.number}:v{ev.sequence}",
        kind=kind,
        tags=[ward.code, parts.site.code, IMPROVEMENT_TEAM_TAG],
        context=_message_context(parts, reason),
        ward_code=ward.code,
        recipients=[e for e in emails if e],
        attachments=attachments,
    )


def send_invite(session: Session, parts: EventParts, as_of: date, reason: str = "") -> None:
    """The calendar request (SEQUENCE 0 with the triage template; later ones move it)."""
    ward, wave = parts.ward, parts.wave
    attachments = [
        Attachment(
            filename="engagement-event.ics",
            content=_calendar(parts, as_of, "REQUEST"),
            content_type=CALENDAR_CONTENT_TYPE,
        )
    ]
    if parts.event.sequence == 0:
        # The first invite carries the triage template; updates only move the meeting.
        attachments += [
            Attachment(
                filename=template_filename(ward.code, wave.number, ".xlsx"),
                content=build_xlsx(ward.code, ward.name, wave.number),
                content_type=XLSX_CONTENT_TYPE,
            ),
            Attachment(
                filename=template_filename(ward.code, wave.number, ".csv"),
                content=build_csv(),
                content_type=CSV_CONTENT_TYPE,
            ),
        ]
    _enqueue(session, parts, "engagement_invite", reason, attachments)


def send_cancellation(session: Session, parts: EventParts, as_of: date, reason: str) -> None:
    """METHOD:CANCEL to everyone the invite went to."""
    cancel = Attachment(
        filename="engagement-event-cancelled.ics",
        content=_calendar(parts, as_of, "CANCEL"),
        content_type=CALENDAR_CONTENT_TYPE,
    )
    _enqueue(session, parts, "engagement_cancelled", reason, [cancel])
