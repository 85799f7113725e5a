"""Notification flows: deliver the outbox, and enqueue the improvement team's digest.

    dispatch_notifications:    claim due messages -> send with apprise -> artifacts
    improvement_team_digest:   counts + overdue lists -> one outbox message per day

Delivery retries live in the outbox (backoff per message, dead after N attempts), not in Prefect
task retries: a retried task would re-claim nothing new and only hide what happened.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.common import artifact_key, dated_run_name, on_its_day, resolve_as_of, runtime
from wardprog import clock
from wardprog.config import TIMEZONE
from wardprog.db import session_scope
from wardprog.notify.digest import enqueue_improvement_team_digest
from wardprog.notify.dispatch import dispatch_pending


def dispatch_time(as_of: date | None, tz: str = TIMEZONE) -> datetime:
    """The clock a dispatch runs on: now for real runs, the end of ``as_of`` in a replay.

    End of day so that everything enqueued on a simulated day goes out that day, and a message
    backing off goes on a later day's run, as it would in production.
    """
    # A simulated clock (a replay's tick) always sends at its day's end, never at 09:00 of it.
    current = clock.now()
    if as_of is None or (not clock.is_simulated() and as_of == clock.today(tz)):
        return current
    return datetime.combine(as_of, time(23, 59, 59), tzinfo=ZoneInfo(tz)).astimezone(UTC)


@task(task_run_name="deliver pending notifications")
def deliver_pending(now: datetime, limit: int) -> dict[str, Any]:
    settings, engine = runtime()
    report = dispatch_pending(engine, settings, now=now, limit=limit)
    logger = get_run_logger()
    logger.info("%d sent, %d will retry, %d dead", report.sent, report.retrying, report.dead)
    key = artifact_key("notifications", "dispatch")
    create_markdown_artifact(
        key=key, markdown=report.as_markdown(), description="Notification dispatch summary"
    )
    if report.results:
        create_table_artifact(
            key=artifact_key("notifications", "dispatch", "messages"),
            table=report.as_rows(),
            description="Each message this dispatch handled (errors are secret-free)",
        )
    return {
        "claimed": report.claimed,
        "sent": report.sent,
        "retrying": report.retrying,
        "dead": report.dead,
    }


@flow(name="dispatch-notifications", flow_run_name=dated_run_name("dispatch notifications {as_of}"))
@on_its_day
def dispatch_notifications(as_of: date | None = None, limit: int = 1000) -> dict[str, Any]:
    """Deliver up to ``limit`` due outbox messages; safe to run as often as you like."""
    settings, _ = runtime()
    return deliver_pending(dispatch_time(as_of, settings.timezone), limit)


@task(task_run_name="enqueue improvement-team digest {as_of}")
def enqueue_digest(as_of: date) -> dict[str, Any]:
    settings, engine = runtime()
    with session_scope(engine) as session:
        note = enqueue_improvement_team_digest(session, settings, as_of)
        return {"key": note.idempotency_key, "id": note.id, "subject": note.subject}


@flow(
    name="improvement-team-digest", flow_run_name=dated_run_name("improvement team digest {as_of}")
)
@on_its_day
def improvement_team_digest(as_of: date | None = None) -> dict[str, Any]:
    """Enqueue the day's digest (once per day however often it runs); dispatch sends it."""
    return enqueue_digest(resolve_as_of(as_of))
