"""Simulated ward staff for the demo: they return the templates the programme sends them.

In a real trust these files arrive in each ward's inbox folder from people. In the demo, between
flow runs, each engagement event whose day has come is first recorded as held by its facilitator
(the ``RecordEventHeld`` command, as a person would), and every ward whose event has been held
returns what it still owes: the filled triage template (while triage is not yet captured) and
the QSIR nomination return (while the ward has no nominations). The flows then find them exactly
as they would a person's files.

As on real wards, not everyone is prompt: a few wards (:func:`returns_late`) send nothing back
until the programme chases their ward manager (the ``return_chase`` message), and a few ask
for their event to be moved before it happens (:func:`reschedule_events`: the facilitator
moves it through the ``RescheduleEvent`` command, as they would from the CLI or the ward page).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from wardprog.config import LONDON, Settings
from wardprog.models import (
    EngagementEvent,
    EventStatus,
    Site,
    Stage,
    Ward,
    WardEnrolment,
    Wave,
)
from wardprog.notify.outbox import enqueued
from wardprog.services.context import StageContext

# Enrolment stages at which a ward still owes a return (triage template, nomination file):
# from the event being held (the engagement stage completes on the next run) onwards.
OWES_TRIAGE = (Stage.diagnostic, Stage.engagement)
OWES_NOMINATIONS = (Stage.diagnostic, Stage.engagement, Stage.triage)
# Share of wards (per wave) that return nothing until chased, and that ask to move their event.
LATE_SHARE = 0.12
RESCHEDULE_SHARE = 0.12
RESCHEDULE_REASONS = (
    "Ward at full capacity (OPEL 4) that week: staff cannot be released",
    "Ward manager on annual leave that week",
    "Clashes with the ward's mandatory training day",
    "Ward closed to admissions with a norovirus outbreak",
)


def _pick(ward_code: str, wave: int, what: str) -> float:
    digest = hashlib.sha256(f"{ward_code}:{wave}:{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def returns_late(ward_code: str, wave: int) -> bool:
    """This ward sends its returns only once the programme has chased its manager."""
    return _pick(ward_code, wave, "late") < LATE_SHARE


def _chased(session: Session, ward_code: str, wave: int) -> bool:
    """The manager has been chased for the triage template. Chasing runs after the day's
    returns, so a chase found here went out on an earlier day."""
    key = f"return_chase:triage:{ward_code}:wave-{wave}:manager"
    return enqueued(session, key)


def return_templates(
    session: Session, settings: Settings, as_of: date, *, late_wards: bool = False
) -> int:
    """Drop each due ward's returned files into its inbox; returns how many files were written.

    With ``late_wards`` (the demo's replay), the wards :func:`returns_late` picks send nothing
    until chased; without it (a flow's ``simulate_staff``) every ward returns promptly.
    Deterministic per ward and wave (see the two droppers), so a replay writes the same files.
    """
    from wardprog.demo.staff import drop_nomination_return
    from wardprog.demo.triage_responses import drop_filled_template, specialty_groups

    sites = {s.id: s for s in session.exec(select(Site)).all()}
    rows = session.exec(
        select(WardEnrolment, Ward, Wave, EngagementEvent)
        .where(WardEnrolment.ward_id == Ward.id, WardEnrolment.wave_id == Wave.id)
        .where(EngagementEvent.ward_id == Ward.id, EngagementEvent.wave_id == Wave.id)
        .where(EngagementEvent.status != EventStatus.cancelled)
        .where(col(WardEnrolment.stage).in_(OWES_NOMINATIONS))
        .order_by(col(Wave.number), col(Ward.code))
    ).all()
    written = 0
    groups: dict[str | None, list[str]] | None = None  # read once, when a first ward returns
    for enrolment, ward, wave, event in rows:
        if event.starts_at is None or _event_day(event) > as_of:
            continue  # the event has not happened yet: nothing to return
        ctx = StageContext(session, settings, as_of, ward, sites[ward.site_id], wave, enrolment)
        if event.status is EventStatus.scheduled:
            record_held(ctx, event)
        if event.status is not EventStatus.held:
            continue
        if (
            late_wards
            and enrolment.stage in OWES_TRIAGE
            and returns_late(ward.code, wave.number)
            and not _chased(session, ward.code, wave.number)
        ):
            continue  # nothing back until the chase reaches the ward manager
        if enrolment.stage in OWES_TRIAGE:
            groups = groups if groups is not None else specialty_groups(session)
            drop_filled_template(ctx, groups=groups)
            written += 1
        drop_nomination_return(ctx)
        written += 1
    return written


def _event_day(event: EngagementEvent) -> date:

    from wardprog.rules.slots import to_utc

    assert event.starts_at is not None
    return to_utc(event.starts_at).astimezone(LONDON).date()


def record_held(ctx: StageContext, event: EngagementEvent) -> None:
    """The facilitator records the event as held on its day: 8 to 16 staff, stable per ward."""
    import hashlib

    from wardprog import commands as c
    from wardprog.models import Facilitator
    from wardprog.services.handlers import run

    facilitator = (
        ctx.session.get(Facilitator, event.facilitator_id) if event.facilitator_id else None
    )
    digest = hashlib.sha256(f"{ctx.ward.code}:{ctx.wave.number}:held".encode()).digest()
    name = facilitator.name if facilitator else "QI facilitator"
    run(
        ctx.session,
        ctx.settings,
        c.build(
            c.RecordEventHeld,
            actor={"name": name, "email": facilitator.email if facilitator else ""},
            source={"kind": "demo"},
            on=ctx.as_of,
            ward_code=ctx.ward.code,
            wave=ctx.wave.number,
            held_on=_event_day(event),
            attendees=8 + digest[0] % 9,
            facilitator=name,
        ),
    )


def reschedule_events(session: Session, settings: Settings, as_of: date) -> int:
    """Wards that cannot make their event ask, and the facilitator moves it a week or two on.

    Once per event (only events never moved are asked about), on a day before the event;
    the new day is the first of the next working days with a free room and facilitator.
    """
    from wardprog import commands as c
    from wardprog.errors import WardprogError
    from wardprog.services.handlers import run

    rows = session.exec(
        select(EngagementEvent, Ward, Wave)
        .where(EngagementEvent.ward_id == Ward.id, EngagementEvent.wave_id == Wave.id)
        .where(EngagementEvent.status == EventStatus.scheduled)
        .where(EngagementEvent.sequence == 0)
        .order_by(col(Wave.number), col(Ward.code))
    ).all()
    moved = 0
    for event, ward, wave in rows:
        if event.starts_at is None or _event_day(event) <= as_of:
            continue
        if _pick(ward.code, wave.number, "reschedule") >= RESCHEDULE_SHARE:
            continue
        reason = RESCHEDULE_REASONS[
            int(_pick(ward.code, wave.number, "why") * len(RESCHEDULE_REASONS))
        ]
        start = _local_start(event)
        for days in range(7, 22):
            try:
                run(session, settings, c.build(
                    c.RescheduleEvent, actor={"name": "Improvement team"},
                    source={"kind": "demo"}, on=as_of, ward_code=ward.code, wave=wave.number,
                    to=start + timedelta(days=days), reason=reason,
                ))  # fmt: skip
            except WardprogError:
                continue  # a weekend, a bank holiday or no free room: try the next day
            moved += 1
            break
    return moved


def _local_start(event: EngagementEvent) -> datetime:
    from wardprog.rules.slots import to_utc

    assert event.starts_at is not None
    return to_utc(event.starts_at).astimezone(LONDON).replace(tzinfo=None)
