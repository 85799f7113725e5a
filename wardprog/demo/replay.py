"""Replay the whole programme on a simulated clock, with simulated ward staff between runs.

Every quarter's first working day launches a wave; seven weeks later (after the engagement
window) the open waves advance again to capture triage and QSIR nominations; notifications go
out after each step. The production flows run unchanged, as the scheduled deployments run them
on the real clock: the demo only acts between their runs, as people would - ward staff return
their templates to the inbox folders before the day's run, and after it they work through
their triage items and attend their QSIR teaching days.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from prefect import Flow, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
from sqlmodel import Session

from flows.board import board_report, month_end_runs
from flows.common import artifact_key, runtime
from flows.daily import daily_round
from flows.launch_wave import advance_wards, launch_wave
from flows.notify import dispatch_notifications, improvement_team_digest
from flows.qsir import record_completions
from wardprog import clock
from wardprog.config import get_settings
from wardprog.db import session_scope
from wardprog.queries import stage_counts, ward_statuses
from wardprog.rules.working_days import next_working_day, quarter_launch_dates
from wardprog.services.programme import DEFAULT_PROGRAMME

# Engagement events fall 2-6 weeks into a wave; a week later staff have returned templates.
FOLLOW_UP = timedelta(weeks=7)
# A first advance four weeks in picks up the wards whose event came early, so a wave's wards
# are triaged (and nominate) on different days, as a daily advance would find them.
EARLY_FOLLOW_UP = timedelta(weeks=4)


def programme_ticks(start: date, end: date) -> list[tuple[date, str]]:
    """The simulated calendar: (date, what happens) in order."""
    ticks: list[tuple[date, str]] = []
    for launch_day in quarter_launch_dates(start, end):
        ticks.append((launch_day, "launch"))
        for after in (EARLY_FOLLOW_UP, FOLLOW_UP):
            follow = next_working_day(launch_day + after)
            if follow <= end:
                ticks.append((follow, "advance"))
    ticks.append((end, "advance"))
    return sorted(set(ticks))


@task(task_run_name="ward staff return templates {as_of}", persist_result=False)
def staff_return_templates(as_of: date) -> int:
    """Before the day's run: wards whose event has taken place return what they owe."""
    from wardprog.demo.simulate import return_templates

    settings, engine = runtime()
    with session_scope(engine) as session:
        return return_templates(session, settings, as_of, late_wards=True)


@task(task_run_name="ward staff follow up {as_of}", persist_result=False)
def staff_follow_up(as_of: date) -> dict[str, int]:
    """After the day's run: wards work through their triage, nominees attend QSIR sessions."""
    from wardprog.demo.follow_up import simulate_follow_up
    from wardprog.demo.staff import simulate_attendance

    _, engine = runtime()
    with session_scope(engine) as session:
        changes = simulate_follow_up(session, as_of)
    with session_scope(engine) as session:
        attendance = simulate_attendance(session, as_of)
    return {
        "triage_changes": changes,
        "sessions_recorded": attendance.sessions_recorded,
        "projects_presented": attendance.projects_presented,
    }


# The day's closing jobs. On the real clock each is its own deployment on its own schedule
# (completions on Friday evenings, the digest on Monday mornings, dispatch every 15 minutes);
# the replay runs them every tick. Each is run as its flow's body (``.fn``) in the programme's
# own run, so their tasks, logs and artifacts are that run's: as subflows they were 40 flow
# runs a year of a task or two each, and a subflow costs about 0.2 s of API round trips here
# (measured 2026-12-04: 40 empty subflows 7.4 s, their bodies called alone 0.3 s).
CLOSING_JOBS: tuple[Flow[..., Any], ...] = (
    record_completions,
    improvement_team_digest,
    dispatch_notifications,
)


def replay_tick(as_of: date, action: str, programme: str = DEFAULT_PROGRAMME) -> None:
    """One simulated day: staff return templates, the day's flows, staff follow up."""
    staff_return_templates(as_of)
    if action == "launch":
        launch_wave(as_of=as_of, programme=programme)
    else:
        advance_wards(as_of=as_of, programme=programme)
    staff_follow_up(as_of)
    daily_round(as_of=as_of)  # reminders, project follow-up, chasing, re-checks, QSIR reminders
    for job in CLOSING_JOBS:  # completions, the team's digest, then every message out
        job.fn(as_of=as_of)


def replay_days(start: date, end: date, programme: str = DEFAULT_PROGRAMME) -> Iterator[date]:
    """Replay the calendar, yielding each tick's date once its day is done.

    What a caller sees between two yields is the database as it stood at the end of that day:
    a test can record it there and compare `status --as-of` that day once the year is over.
    """
    logger = get_run_logger()
    board_days = month_end_runs(start, end)  # each month's board report, as the month ends
    for as_of, action in programme_ticks(start, end):
        while board_days and board_days[0] <= as_of:
            board_report(as_of=board_days.pop(0))
        logger.info("%s: %s", as_of, action)
        # The whole tick on the day's clock: the staff between runs as much as the flows, so
        # what they write is dated that day too (also on the replayed day that is today).
        with clock.simulated(clock.day_start(as_of, get_settings().timezone)):
            replay_tick(as_of, action, programme)
        yield as_of
    for day in board_days:
        board_report(as_of=day)
    dispatch_notifications.fn(as_of=board_days[-1] if board_days else end)


@flow(name="run-programme", flow_run_name="programme {start} to {end}", log_prints=True)
def run_programme(start: date, end: date, programme: str = DEFAULT_PROGRAMME) -> dict[str, Any]:
    """The demo's year: on each tick, staff returns, the day's flows, staff follow-up."""
    for _ in replay_days(start, end, programme):
        pass

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


@contextmanager
def in_process_runs() -> Iterator[None]:
    """Flow runs without heartbeats, for a replay that runs every flow in this process.

    Heartbeats let the Prefect server mark a flow run crashed when the process running it dies
    silently (a worker's flow-run subprocess killed or OOM'd); deployments on workers keep
    them (Prefect's default, every 180 s). A replay runs in the terminal that started it, so
    a crash is seen there, and in Prefect 3.8 every flow run joins its heartbeat thread on
    exit, up to a second each: the demo's year has about 80 flow runs (150 when re-checks
    were subflows), so heartbeats alone padded it by more than a minute.
    The setting's environment variable cannot turn them off (it must be >= 30); this can.
    """
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def replay_programme(start: date, end: date, programme: str = DEFAULT_PROGRAMME) -> dict[str, Any]:
    """The `run-programme` flow run, in process, without heartbeats."""
    with in_process_runs():
        return run_programme(start=start, end=end, programme=programme)
