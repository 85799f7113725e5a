"""Handlers for engagement events: reschedule, cancel, record as held, defer a ward, a ward's
preferences.
"""

from __future__ import annotations

from sqlmodel import Session

from wardprog import commands as c
from wardprog.config import LONDON, Settings
from wardprog.rules.slots import to_utc
from wardprog.services import (
    engagement,
)
from wardprog.services.context import require_id, ward_by_code
from wardprog.services.handlers.bus import Outcome, handler

# --- engagement --------------------------------------------------------------------------------


@handler(c.RescheduleEvent)
def reschedule_event(session: Session, settings: Settings, cmd: c.RescheduleEvent) -> Outcome:
    ward_by_code(session, cmd.ward_code)
    event = engagement.find_event(session, cmd.ward_code, cmd.wave)
    assert event.id is not None
    event = engagement.reschedule_event(session, event.id, cmd.to, cmd.reason, cmd.on, settings)
    assert event.starts_at is not None
    local = to_utc(event.starts_at).astimezone(LONDON)
    return Outcome(
        f"{cmd.ward_code} wave {cmd.wave} event moved to {local:%a %d %b %Y %H:%M}",
        ward_code=cmd.ward_code,
        subject=f"event {event.id}",
        details={"event_id": event.id, "starts_at": local.isoformat(), "sequence": event.sequence},
    )


@handler(c.CancelEvent)
def cancel_event(session: Session, _settings: Settings, cmd: c.CancelEvent) -> Outcome:
    ward_by_code(session, cmd.ward_code)
    event = engagement.find_event(session, cmd.ward_code, cmd.wave)
    event = engagement.cancel_event(session, require_id(event), cmd.reason, cmd.on)
    return Outcome(
        f"{cmd.ward_code} wave {cmd.wave} event cancelled: {cmd.reason}",
        ward_code=cmd.ward_code,
        subject=f"event {event.id}",
        details={"event_id": event.id, "status": event.status.value},
    )


@handler(c.RecordEventHeld)
def record_event_held(session: Session, _settings: Settings, cmd: c.RecordEventHeld) -> Outcome:
    ward_by_code(session, cmd.ward_code)
    event = engagement.find_event(session, cmd.ward_code, cmd.wave)
    assert event.id is not None
    event, changed = engagement.record_event_held(
        session,
        event.id,
        cmd.held_on,
        cmd.on,
        attendees=cmd.attendees,
        names=list(cmd.names or []),
        facilitator=cmd.facilitator or "",
    )
    what = "held" if changed else "already recorded as held"
    by = event.held_facilitator or "nobody named"
    return Outcome(
        f"{cmd.ward_code} wave {cmd.wave} event {what} on {cmd.held_on:%a %d %b %Y}: "
        f"{event.attendees_count} attended, facilitated by {by}",
        ward_code=cmd.ward_code,
        subject=f"event {event.id}",
        details={
            "event_id": event.id,
            "status": event.status.value,
            "held_on": cmd.held_on.isoformat(),
            "attendees": event.attendees_count,
            "names": event.attendee_names,
            "facilitator": event.held_facilitator,
        },
    )


@handler(c.DeferWard)
def defer_ward(session: Session, settings: Settings, cmd: c.DeferWard) -> Outcome:
    from wardprog.services.deferral import defer_ward as defer

    moved = defer(session, settings, cmd.ward_code, cmd.reason, cmd.on, cmd.actor.name)
    to = f"wave {moved.to_wave}" if moved.to_wave else "a later wave"
    notes = f"; {'; '.join(moved.notes)}" if moved.notes else ""
    return Outcome(
        f"{moved.ward_code} moved from wave {moved.from_wave} to {to}: {cmd.reason}{notes}",
        ward_code=moved.ward_code,
        subject=f"ward {moved.ward_code}",
        details={"from_wave": moved.from_wave, "to_wave": moved.to_wave, "plan_notes": moved.notes},
    )


@handler(c.SetEngagementPreferences)
def set_preferences(
    session: Session, _settings: Settings, cmd: c.SetEngagementPreferences
) -> Outcome:
    ward = ward_by_code(session, cmd.ward_code)
    pref = engagement.set_ward_preference(
        session,
        ward,
        preferred_starts=cmd.starts,
        avoid_weekdays=[d.number for d in cmd.avoid] if cmd.avoid is not None else None,
        expected_attendees=cmd.expected_attendees,
    )
    avoid = ",".join(list(c.Weekday)[d].value for d in pref.avoid_weekdays) or "none"
    return Outcome(
        f"{ward.code}: starts {', '.join(pref.preferred_starts)}; avoid {avoid}; "
        f"{pref.expected_attendees} expected",
        ward_code=ward.code,
        subject=f"ward {ward.code}",
        details={
            "preferred_starts": pref.preferred_starts,
            "avoid_weekdays": pref.avoid_weekdays,
            "expected_attendees": pref.expected_attendees,
        },
    )
