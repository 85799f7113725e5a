"""The engagement stage: book the ward's event once its pack is ready and invite the ward; the
stage completes when the event is recorded as held.

A wave's slots are decided in one pass before its wards' turns (:func:`plan_wave_events`, in
register order, each slot among the ones before it), so the wards then book their events and
send their invites concurrently, and the trust's bookings, rooms and facilitators are read once
per wave rather than once per ward. A ward on its own finds its slot itself, with the same
result.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from wardprog.config import IMPROVEMENT_TEAM_TAG
from wardprog.errors import SchedulingError
from wardprog.models import Site, Stage, Ward, WardEnrolment
from wardprog.models.engagement import EngagementEvent, EventStatus, Facilitator
from wardprog.notify.outbox import enqueue
from wardprog.rules.slots import LONDON, SlotRequest, engagement_window, to_utc
from wardprog.rules.working_days import england_bank_holidays
from wardprog.services.context import StageContext, StageOutcome, require_id
from wardprog.services.engagement.booking import (
    find_slot_for,
    find_slots_for,
    planned_slot,
    slot_plan,
    slot_request,
)
from wardprog.services.engagement.invites import event_uid, load_event, send_invite
from wardprog.services.venues import active_facilitators, active_venues


def _pack_ready(ctx: StageContext) -> date:
    if ctx.enrolment.diagnostic_at is None:
        return ctx.as_of
    return to_utc(ctx.enrolment.diagnostic_at).astimezone(LONDON).date()


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
    if ctx.plan is not None:
        slot = planned_slot(ctx.plan)
    else:
        missing = _missing_resources(session, ctx.site)
        if missing:
            _ask_team_to_register(ctx, missing)
            return _no_resources(ctx, missing)
        first_day, last_day = event_window(ctx)
        request = slot_request(session, ctx.settings, ctx.ward, ctx.site, first_day, last_day)
        slot = find_slot_for(session, ctx.site, request)
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
    send_invite(session, load_event(session, require_id(event)), ctx.as_of)
    local = slot.starts_at.astimezone(LONDON)
    # Invited, not engaged: the stage completes when the event is recorded as held.
    return StageOutcome(
        done=False,
        summary=f"engagement event {local:%a %d %b %Y %H:%M} in {slot.room.name} "
        f"with {slot.facilitator.name}",
        details=_details(event),
    )


def event_window(ctx: StageContext) -> tuple[date, date]:
    """The first and last day the ward's event may fall on (``rules.slots.engagement_window``)."""
    pack_ready = _pack_ready(ctx)
    return engagement_window(
        quarter_start=ctx.wave.quarter_start,
        start_days=ctx.settings.engagement_window_start_days,
        end_days=ctx.settings.engagement_window_end_days,
        pack_ready=pack_ready,
        as_of=ctx.as_of,
        bank_holidays=england_bank_holidays(pack_ready, pack_ready + timedelta(days=14)),
    )


def plan_wave_events(contexts: Sequence[StageContext]) -> dict[int, dict[str, Any]]:
    """The slots of a wave's wards about to book their event, decided in one pass: by
    enrolment id, as plain values for each ward's own task (``booking.slot_plan``).

    ``contexts`` in the wave's register order, the order wards are served in. Only wards with
    their pack ready and no event yet are planned. A site with no rooms or facilitators is
    asked for them here, once (its wards then wait); a ward with no free slot is left out and
    its own stage says why, as it does on its own.
    """
    due: list[tuple[StageContext, SlotRequest]] = []
    missing_at: dict[int, list[str]] = {}
    booked = _wards_with_events(contexts)
    # Read once for the wave: facilitators serve every site, and a region has hundreds.
    facilitators = active_facilitators(contexts[0].session) if contexts else []
    for ctx in contexts:
        if ctx.enrolment.stage is not Stage.diagnostic or require_id(ctx.ward) in booked:
            continue
        site_id = require_id(ctx.site)
        if site_id not in missing_at:
            missing_at[site_id] = _missing_resources(ctx.session, ctx.site, facilitators)
            if missing_at[site_id]:
                _ask_team_to_register(ctx, missing_at[site_id])
        if missing_at[site_id]:
            continue
        first_day, last_day = event_window(ctx)
        request = slot_request(ctx.session, ctx.settings, ctx.ward, ctx.site, first_day, last_day)
        due.append((ctx, request))
    requests = [(c.site, r) for c, r in due]
    found = find_slots_for(contexts[0].session, requests, facilitators) if due else []
    return {
        require_id(ctx.enrolment): slot_plan(slot)
        for (ctx, _), slot in zip(due, found, strict=True)
        if not isinstance(slot, SchedulingError)
    }


def _wards_with_events(contexts: Sequence[StageContext]) -> set[int]:
    if not contexts:
        return set()
    found = contexts[0].session.exec(
        select(EngagementEvent.ward_id).where(
            col(EngagementEvent.wave_id).in_({c.wave.id for c in contexts}),
            col(EngagementEvent.ward_id).in_([c.ward.id for c in contexts]),
        )
    )
    return set(found.all())


def _no_resources(ctx: StageContext, missing: list[str]) -> StageOutcome:
    return StageOutcome(
        done=False,
        summary=f"waiting: no {' or '.join(missing)} registered for site {ctx.site.code}",
    )


def _missing_resources(
    session: Session, site: Site, facilitators: Sequence[Facilitator] | None = None
) -> list[str]:
    """What ``site`` lacks to book events; ``facilitators``: the active ones, if already read."""
    venues = active_venues(session, site)
    people = active_facilitators(session) if facilitators is None else facilitators
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
