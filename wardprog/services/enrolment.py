"""Move one ward through its stages: each stage in its own transaction with its enrolment update.

A stage either finishes (the enrolment advances and records when, on the programme's clock) or
says it is waiting for people (a template not yet returned); the ward then stays where it is and
the next run picks it up. Because every stage service is idempotent and commits together with
the stage advance, a crash or retry at any point re-runs at most the unfinished stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from wardprog.config import Settings
from wardprog.db import session_scope
from wardprog.errors import NotFoundError
from wardprog.models import STAGE_ORDER, Site, Stage, Ward, WardEnrolment, Wave, WaveStatus
from wardprog.services.context import StageContext, StageOutcome, require_id
from wardprog.services.programme import on_day, refresh_wave_status

WORK_STAGES: tuple[Stage, ...] = (Stage.diagnostic, Stage.engagement, Stage.triage, Stage.qsir)

StageFn = Callable[[StageContext], StageOutcome]


def stage_function(stage: Stage) -> StageFn:
    # Imported on use so each stage's dependencies (pandas, openpyxl...) load only when needed.
    if stage is Stage.diagnostic:
        from wardprog.services.diagnostics import run_diagnostic_stage

        return run_diagnostic_stage
    if stage is Stage.engagement:
        from wardprog.services.engagement import run_engagement_stage

        return run_engagement_stage
    if stage is Stage.triage:
        from wardprog.services.triage import run_triage_stage

        return run_triage_stage
    if stage is Stage.qsir:
        # A wave's ward only records its nominations: the wave seats them all at once after.
        from wardprog.services.qsir import take_nominations

        return take_nominations
    raise ValueError(f"{stage} is not a work stage")


def before_stage(
    engine: Engine,
    settings: Settings,
    stage: Stage,
    as_of: date,
    enrolment_ids: Sequence[int],
) -> dict[int, dict[str, Any]]:
    """What a wave's wards are given before their turns at ``stage``, decided in one pass.

    Engagement: each due ward's slot, in the order of ``enrolment_ids`` (the wave's register
    order), each among the ones before it, so the wards book concurrently what ward by ward
    would have given them. By enrolment id, for :func:`run_stage`'s ``plan``; empty for a stage
    with no such step. Commits what it asks of people (a site's missing rooms or facilitators).
    """
    if stage is not Stage.engagement or not enrolment_ids:
        return {}
    from wardprog.services.engagement import plan_wave_events

    with session_scope(engine) as session:
        rows = session.exec(
            select(WardEnrolment, Ward, Wave, Site)
            .where(col(WardEnrolment.id).in_(enrolment_ids))
            .where(Ward.id == WardEnrolment.ward_id, Wave.id == WardEnrolment.wave_id)
            .where(Site.id == Ward.site_id)
        ).all()
        place = {enrolment_id: n for n, enrolment_id in enumerate(enrolment_ids)}
        contexts = sorted(
            (StageContext(session, settings, as_of, w, s, v, e) for e, w, v, s in rows),
            key=lambda ctx: place[require_id(ctx.enrolment)],
        )
        return plan_wave_events(contexts)


def after_stage(
    engine: Engine, settings: Settings, stage: Stage, as_of: date, wave_id: int
) -> str | None:
    """Wave ``wave_id``'s shared step once each of its wards has had its turn at ``stage``.

    Per-ward work runs concurrently; what one ward's outcome decides for the others is done
    here, once, in a fixed order. Triage: every new item joins its trust-wide theme (ward by
    ward, each ward's items in the order raised) and themes that reached the threshold are
    escalated. QSIR: every new nomination gets its cohort seat or waitlist place, the wave's
    wards and sites sharing the seats by the fairness rule; and the wave is marked complete
    once all its wards are (here, after their concurrent transactions have committed: each
    ward's own check sees only the commits before it, so two last wards finishing together
    would each find the other not yet done). Idempotent: what a crashed run left unplaced,
    unseated or unmarked is done by the next.
    Returns a line for the run's log, or ``None`` when the stage has no such step.
    """
    if stage is Stage.triage:
        from wardprog.services.themes import refresh_themes

        with session_scope(engine) as session:
            keys = ", ".join(t.key for t in refresh_themes(session, settings, as_of))
        return f"themes placed; escalated: {keys}" if keys else "themes placed"
    if stage is Stage.qsir:
        from wardprog.services.qsir import seat_new_nominations

        with session_scope(engine) as session:
            seated = seat_new_nominations(session, settings, as_of)
            complete = refresh_wave_status(session, wave_id, as_of).status is WaveStatus.complete
        done = "; the wave is complete" if complete else ""
        if seated is None:
            return "no new nominations" + done
        booked, waitlisted = len(seated.booked), len(seated.waitlisted)
        return f"seats allocated: {booked} booked, {waitlisted} waitlisted{done}"
    return None


def is_past(current: Stage, stage: Stage) -> bool:
    return STAGE_ORDER.index(current) >= STAGE_ORDER.index(stage)


def run_stage(
    engine: Engine,
    settings: Settings,
    enrolment_id: int,
    stage: Stage,
    as_of: date,
    plan: dict[str, Any] | None = None,
) -> StageOutcome:
    """Run ``stage`` for one enrolment if it is the ward's next stage; commit with the advance.

    ``plan``: what the wave's :func:`before_stage` decided for this ward, if anything.
    """
    with session_scope(engine) as session:
        # One round trip for the enrolment, its ward, wave and site (was four reads).
        row = session.exec(
            select(WardEnrolment, Ward, Wave, Site)
            .where(WardEnrolment.id == enrolment_id)
            .where(Ward.id == WardEnrolment.ward_id, Wave.id == WardEnrolment.wave_id)
            .where(Site.id == Ward.site_id)
        ).first()
        if row is None:
            raise NotFoundError(f"enrolment {enrolment_id} does not exist")
        enrolment, ward, wave, site = row
        if is_past(enrolment.stage, stage):
            return StageOutcome(done=True, summary="already done", details={"skipped": True})
        expected = STAGE_ORDER[STAGE_ORDER.index(stage) - 1]
        if enrolment.stage != expected:
            return StageOutcome(
                done=False,
                summary=f"waiting for {STAGE_ORDER[STAGE_ORDER.index(enrolment.stage) + 1].value}",
            )
        ctx = StageContext(session, settings, as_of, ward, site, wave, enrolment, plan)
        outcome = stage_function(stage)(ctx)
        if outcome.done:
            enrolment.stage = stage
            # A stage may say when it really finished (an event held before today's run).
            finished = outcome.details.get("completed_on")
            when = finished if isinstance(finished, date) and finished <= as_of else as_of
            setattr(enrolment, f"{stage.value}_at", on_day(when, 17))
            if stage is Stage.qsir:
                enrolment.stage = Stage.complete
                enrolment.completed_at = on_day(as_of, 17)
            session.add(enrolment)
            session.flush()
            if enrolment.stage is Stage.complete:  # only then can the wave be complete
                refresh_wave_status(session, require_id(wave), as_of)
        return outcome
