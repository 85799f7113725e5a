"""Engagement event changes made by the improvement team: reschedule and cancel.

    reschedule_engagement: find the ward's event -> check the new time -> SEQUENCE+1 -> update
    cancel_engagement:     find the ward's event -> cancel -> METHOD:CANCEL

Each writes a history row and an outbox message in one transaction; running either again with
the same arguments changes nothing and sends nothing new.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_table_artifact

from flows.common import artifact_key, dated_run_name, runtime
from wardprog.db import session_scope
from wardprog.models.base import require_id
from wardprog.models.engagement import EngagementEvent
from wardprog.rules.slots import LONDON, to_utc
from wardprog.services.engagement import (
    cancel_event,
    event_history,
    find_event,
    reschedule_event,
)


def _summary(session: Any, event: EngagementEvent, ward_code: str) -> dict[str, Any]:
    history = [
        {
            "sequence": c.sequence,
            "action": c.action,
            "from": to_utc(c.old_starts_at).astimezone(LONDON).isoformat()
            if c.old_starts_at
            else "",
            "to": to_utc(c.new_starts_at).astimezone(LONDON).isoformat() if c.new_starts_at else "",
            "reason": c.reason,
        }
        for c in event_history(session, require_id(event))
    ]
    assert event.starts_at is not None
    return {
        "ward": ward_code,
        "event_id": event.id,
        "status": event.status.value,
        "sequence": event.sequence,
        "starts_at": to_utc(event.starts_at).astimezone(LONDON).isoformat(),
        "history": history,
    }


def _publish(result: dict[str, Any]) -> None:
    if result["history"]:
        create_table_artifact(
            key=artifact_key("engagement", result["ward"], "history"),
            table=result["history"],
            description=f"Engagement event changes for ward {result['ward']}",
        )


@task(task_run_name="reschedule engagement · {ward_code}")
def reschedule_task(
    ward_code: str, new_start: datetime, reason: str, as_of: date, wave_number: int | None
) -> dict[str, Any]:
    settings, engine = runtime()
    with session_scope(engine) as session:
        event = find_event(session, ward_code, wave_number)
        event = reschedule_event(
            session,
            require_id(event),
            new_start,
            reason,
            as_of,
            settings=settings,
        )
        return _summary(session, event, ward_code)


@task(task_run_name="cancel engagement · {ward_code}")
def cancel_task(
    ward_code: str, reason: str, as_of: date, wave_number: int | None
) -> dict[str, Any]:
    _, engine = runtime()
    with session_scope(engine) as session:
        event = find_event(session, ward_code, wave_number)
        event = cancel_event(session, require_id(event), reason, as_of)
        return _summary(session, event, ward_code)


@flow(
    name="reschedule-engagement",
    flow_run_name=dated_run_name("reschedule engagement {ward_code} {as_of}"),
)
def reschedule_engagement(
    ward_code: str,
    new_start: datetime,
    reason: str,
    as_of: date,
    wave_number: int | None = None,
) -> dict[str, Any]:
    """Move a ward's engagement event; a time without a zone means Europe/London."""
    result = reschedule_task(ward_code, new_start, reason, as_of, wave_number)
    _publish(result)
    return result


@flow(
    name="cancel-engagement", flow_run_name=dated_run_name("cancel engagement {ward_code} {as_of}")
)
def cancel_engagement(
    ward_code: str, reason: str, as_of: date, wave_number: int | None = None
) -> dict[str, Any]:
    """Cancel a ward's engagement event and send the calendar cancellation."""
    result = cancel_task(ward_code, reason, as_of, wave_number)
    _publish(result)
    return result
