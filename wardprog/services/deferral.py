"""Slipped wards: move an enrolled ward that cannot start (outbreak, closure, refurbishment) on
to the next wave.

Only a ward not yet engaged can be moved (its event not held): its enrolment in this wave ends,
a booked event is cancelled (everyone invited gets METHOD:CANCEL), the deferral is recorded with
its reason, and the ward manager is told. The planner then puts the ward first in its site's
next wave and keeps ``wards_per_site_per_wave`` per site where it can; the plan's shortfalls
(a site with fewer or more wards than the target in some wave) are returned in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from wardprog.config import Settings
from wardprog.errors import WardprogError
from wardprog.models import (
    EngagementEvent,
    EventStatus,
    Programme,
    Site,
    Stage,
    Ward,
    WardDeferral,
    Wave,
)
from wardprog.notify.outbox import enqueue
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG
from wardprog.rules.planner import shortfalls
from wardprog.services import engagement
from wardprog.services.context import require_id, ward_by_code, ward_enrolment
from wardprog.services.programme import refresh_wave_status, rollout_plan


class DeferralError(WardprogError):
    """The ward cannot be moved (already engaged, not enrolled)."""


@dataclass(frozen=True)
class Deferred:
    ward_code: str
    from_wave: int
    to_wave: int | None
    notes: list[str]


def defer_ward(
    session: Session, settings: Settings, ward_code: str, reason: str, as_of: date, by: str
) -> Deferred:
    ward = ward_by_code(session, ward_code)
    enrolment = ward_enrolment(session, ward)
    if enrolment is None:
        raise DeferralError(f"{ward.code} is not enrolled in a wave yet; nothing to move")
    wave = session.get(Wave, enrolment.wave_id)
    assert wave is not None
    event = session.exec(
        select(EngagementEvent).where(
            EngagementEvent.ward_id == ward.id, EngagementEvent.wave_id == wave.id
        )
    ).first()
    if enrolment.stage not in (Stage.enrolled, Stage.diagnostic) or (
        event is not None and event.status is EventStatus.held
    ):
        raise DeferralError(
            f"{ward.code} has already held its engagement event in wave {wave.number}; "
            "only a ward not yet engaged can be moved to the next wave"
        )
    if event is not None and event.status is EventStatus.scheduled:
        assert event.id is not None
        why = f"{ward.name} moves to the next wave: {reason}"
        engagement.cancel_event(session, event.id, why, as_of)
    # The baseline pack stays as history; the next wave pulls its own.
    session.delete(enrolment)
    session.add(
        WardDeferral(
            ward_id=require_id(ward),
            from_wave_id=require_id(wave),
            reason=reason,
            deferred_on=as_of,
            deferred_by=by[:200],
        )
    )
    session.flush()
    refresh_wave_status(session, require_id(wave), as_of)
    programme = session.get(Programme, wave.programme_id)
    assert programme is not None
    plan = rollout_plan(session, programme)
    to_wave = next((w.number for w in plan if ward.code in w.ward_codes), None)
    site_of = {
        w.code: s.code for w, s in session.exec(select(Ward, Site).where(Ward.site_id == Site.id))
    }
    notes = shortfalls(plan, site_of, programme.wards_per_site_per_wave, from_wave=wave.number)
    site = session.get(Site, ward.site_id)
    enqueue(
        session,
        key=f"ward_deferred:{ward.code}:wave-{wave.number}",
        kind="ward_deferred",
        tags=[ward.code, *([site.code] if site else []), IMPROVEMENT_TEAM_TAG],
        context={
            "manager_name": ward.manager_name or "Ward manager",
            "ward_name": ward.name,
            "from_wave": wave.number,
            "to_wave": to_wave,
            "reason": reason,
            "quarter_start": next((w.quarter_start for w in plan if w.number == to_wave), None),
        },
        ward_code=ward.code,
        recipients=[ward.manager_email] if ward.manager_email else [],
    )
    return Deferred(ward.code, wave.number, to_wave, notes)
