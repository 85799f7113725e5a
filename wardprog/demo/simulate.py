"""Simulated ward staff for the demo: they return the templates the programme sends them.

In a real trust these files arrive in each ward's inbox folder from people; in the demo a hook
drops them just before the stage that waits for them, so the programme replays end to end.
Triage templates come back only once the engagement event has taken place.
"""

from __future__ import annotations

from sqlmodel import select

from wardprog.models import EngagementEvent, EventStatus, Stage
from wardprog.services.context import StageContext


def staff_simulator(ctx: StageContext, stage: Stage) -> None:
    if stage is Stage.triage:
        event = ctx.session.exec(
            select(EngagementEvent).where(
                EngagementEvent.ward_id == ctx.ward.id,
                EngagementEvent.wave_id == ctx.wave.id,
                EngagementEvent.status != EventStatus.cancelled,
            )
        ).first()
        if (
            event is not None
            and event.starts_at is not None
            and event.starts_at.date() <= ctx.as_of
        ):
            from wardprog.demo.triage_responses import drop_filled_template

            drop_filled_template(ctx)
    elif stage is Stage.qsir:
        from wardprog.demo.staff import drop_nomination_return

        drop_nomination_return(ctx)
