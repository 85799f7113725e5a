"""Simulated ward staff for the demo: they return the templates the programme sends them.

In a real trust these files arrive in each ward's inbox folder from people. In the demo, between
flow runs, each engagement event whose day has come is first recorded as held by its facilitator
(the ``RecordEventHeld`` command, as a person would), and every ward whose event has been held
returns what it still owes: the filled triage template (while triage is not yet captured) and
the QSIR nomination return (while the ward has no nominations). The flows then find them exactly
as they would a person's files.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from wardprog.config import LONDON, Settings
from wardprog.models import EngagementEvent, EventStatus, Site, Stage, Ward, WardEnrolment, Wave
from wardprog.services.context import StageContext

# Enrolment stages at which a ward still owes a return (triage template, nomination file):
# from the event being held (the engagement stage completes on the next run) onwards.
OWES_TRIAGE = (Stage.diagnostic, Stage.engagement)
OWES_NOMINATIONS = (Stage.diagnostic, Stage.engagement, Stage.triage)


def return_templates(session: Session, settings: Settings, as_of: date) -> int:
    """Drop each due ward's returned files into its inbox; returns how many files were written.

    Deterministic per ward and wave (see the two droppers), so a replay writes the same files.
    """
    from wardprog.demo.staff import drop_nomination_return
    from wardprog.demo.triage_responses import drop_filled_template

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
    for enrolment, ward, wave, event in rows:
        if event.starts_at is None or _event_day(event) > as_of:
            continue  # the event has not happened yet: nothing to return
        ctx = StageContext(session, settings, as_of, ward, sites[ward.site_id], wave, enrolment)
        if event.status is EventStatus.scheduled:
            record_held(ctx, event)
        if event.status is not EventStatus.held:
            continue
        if enrolment.stage in OWES_TRIAGE:
            drop_filled_template(ctx)
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
