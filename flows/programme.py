"""Replay the whole programme on a simulated clock.

Every quarter's first working day launches a wave; seven weeks later (after the engagement
window) the open waves advance again to capture triage and QSIR nominations; notifications go
out after each step. The same flows run on the real clock as scheduled deployments.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from sqlmodel import Session

from flows.board import board_report, month_end_runs
from flows.common import artifact_key, runtime
from flows.diagnostics import recheck_due_wards
from flows.launch_wave import advance_wards, launch_wave
from flows.notify import dispatch_notifications, improvement_team_digest
from flows.qsir import qsir_reminders, record_completions
from flows.triage import overdue_reminders
from wardprog.rules.working_days import next_working_day, quarter_launch_dates
from wardprog.services.programme import DEFAULT_PROGRAMME
from wardprog.status import stage_counts, ward_statuses

# Engagement events fall 2-6 weeks into a wave; a week later staff have returned templates.
FOLLOW_UP = timedelta(weeks=7)


def programme_ticks(start: date, end: date) -> list[tuple[date, str]]:
    """The simulated calendar: (date, what happens) in order."""
    ticks: list[tuple[date, str]] = []
    for launch_day in quarter_launch_dates(start, end):
        ticks.append((launch_day, "launch"))
        follow = next_working_day(launch_day + FOLLOW_UP)
        if follow <= end:
            ticks.append((follow, "advance"))
    ticks.append((end, "advance"))
    return sorted(set(ticks))


@flow(name="run-programme", flow_run_name="programme {start} to {end}", log_prints=True)
def run_programme(
    start: date,
    end: date,
    programme: str = DEFAULT_PROGRAMME,
    simulate_staff: bool = False,
) -> dict[str, Any]:
    logger = get_run_logger()
    board_days = month_end_runs(start, end)  # each month's board report, as the month ends
    for as_of, action in programme_ticks(start, end):
        while board_days and board_days[0] <= as_of:
            board_report(as_of=board_days.pop(0))
        logger.info("%s: %s", as_of, action)
        if action == "launch":
            launch_wave(as_of=as_of, programme=programme, simulate_staff=simulate_staff)
        else:
            advance_wards(as_of=as_of, programme=programme, simulate_staff=simulate_staff)
        if simulate_staff:
            _simulate_ward_follow_up(as_of)
        overdue_reminders(as_of=as_of)
        recheck_due_wards(as_of=as_of)
        qsir_reminders(as_of=as_of)
        record_completions(as_of=as_of)
        improvement_team_digest(as_of=as_of)
        dispatch_notifications(as_of=as_of)
    for day in board_days:
        board_report(as_of=day)
    dispatch_notifications(as_of=board_days[-1] if board_days else end)

    _, engine = runtime()
    with Session(engine) as session:
        counts = stage_counts(ward_statuses(session))
    summary = {stage.value: n for stage, n in counts.items()}
    create_markdown_artifact(
        key=artifact_key("programme", "summary"),
        markdown="# Programme replay\n\n"
        + "\n".join(f"- **{k}**: {v} wards" for k, v in summary.items()),
        description=f"Programme from {start} to {end}",
    )
    return summary


def _simulate_ward_follow_up(as_of: date) -> None:
    """Demo only: wards work through their triage and nominees attend QSIR sessions."""
    from wardprog.db import session_scope
    from wardprog.demo.follow_up import simulate_follow_up
    from wardprog.demo.staff import simulate_attendance

    _, engine = runtime()
    with session_scope(engine) as session:
        simulate_follow_up(session, as_of)
    with session_scope(engine) as session:
        simulate_attendance(session, as_of)
