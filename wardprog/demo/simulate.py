"""Simulated ward staff for the demo: they return the templates the programme sends them.

In a real trust these files arrive in each ward's inbox folder from people. In the demo, between
flow runs, every ward whose engagement event has taken place returns what it still owes: the
filled triage template (while triage is not yet captured) and the QSIR nomination return (while
the ward has no nominations). The flows then find them exactly as they would a person's files.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.models import EngagementEvent, EventStatus, Site, Stage, Ward, WardEnrolment, Wave
from wardprog.services.context import StageContext

# Enrolment stages at which a ward still owes a return (triage template, nomination file).
OWES_TRIAGE = (Stage.engagement,)
OWES_NOMINATIONS = (Stage.engagement, Stage.triage)


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
        if event.starts_at is None or event.starts_at.date() > as_of:
            continue  # the event has not happened yet: nothing to return
        ctx = StageContext(session, settings, as_of, ward, sites[ward.site_id], wave, enrolment)
        if enrolment.stage in OWES_TRIAGE:
            drop_filled_template(ctx)
            written += 1
        drop_nomination_return(ctx)
        written += 1
    return written
