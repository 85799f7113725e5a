"""One clock: what the engine writes is dated on the day it works on, and `status --as-of` a day
reads the programme as it stood then (SQLite and PostgreSQL).

The replay test records the programme right after one simulated day, replays the rest of the
two waves, then asks `wardprog status --as-of` that day and compares; on the same replay no
duration is negative and `status` and the dashboard agree on every figure they share.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prefect import flow
from sqlmodel import Session, select
from typer.testing import CliRunner

from flows.board import month_end_runs
from flows.notify import improvement_team_digest
from wardprog import clock, queries
from wardprog.cli import app
from wardprog.config import Settings, get_settings
from wardprog.db import get_engine
from wardprog.demo.replay import in_process_runs, replay_days
from wardprog.demo.runner import prepare_demo, write_register
from wardprog.models import (
    ImprovementScore,
    Notification,
    TriageItem,
    WardEnrolment,
)
from wardprog.reports.dashboard import dashboard_data
from wardprog.rules.slots import to_utc

LONDON = ZoneInfo("Europe/London")
runner = CliRunner()


def _day(value: datetime) -> date:
    return to_utc(value).astimezone(LONDON).date()


def test_running_on_a_past_day_simulates_it_and_today_keeps_the_wall_clock() -> None:
    past = date(2026, 3, 2)
    assert not clock.is_simulated()
    with clock.running_on(past) as day:
        assert day == past and clock.is_simulated()
        assert clock.now() == datetime(2026, 3, 2, 9, tzinfo=LONDON)
        assert clock.today() == past
        # A flow called inside a run on the same day keeps its clock.
        with clock.running_on(past):
            assert clock.now() == datetime(2026, 3, 2, 9, tzinfo=LONDON)
    assert not clock.is_simulated()
    with clock.running_on(None):
        assert not clock.is_simulated()
        assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
    with clock.running_on(clock.today()):
        assert not clock.is_simulated()


def test_a_flow_run_with_as_of_writes_created_at_on_that_day(
    settings: Settings, prefect_harness: None
) -> None:
    day = date(2026, 2, 16)
    assert day != date.today()
    improvement_team_digest(as_of=day)
    with Session(get_engine(settings.database_url)) as session:
        notes = session.exec(select(Notification)).all()
    assert notes and {_day(n.created_at) for n in notes} == {day}


# The recorded day: the second wave's launch, mid-programme (wave 1 done, wave 2 starting).
RECORDED = date(2026, 4, 1)
START, END = date(2026, 1, 2), date(2026, 6, 30)
# What `status --json` shows and the record after the day's run compares (the QSIR forecast
# and upcoming cohorts look forward, so they are not part of what a day "was").
COMPARED = ("waves", "wards", "stages", "not_yet_enrolled", "triage", "notifications")


def _status_json(as_of: date) -> dict[str, Any]:
    result = runner.invoke(app, ["status", "--as-of", as_of.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _recorded(session: Session, settings: Settings, as_of: date) -> dict[str, Any]:
    """The programme as the database held it right after ``as_of``'s run (stored state)."""
    statuses = queries.ward_statuses(session)  # stored stages, not reconstructed
    return json.loads(
        json.dumps(
            {
                "waves": queries.wave_rows(session),
                "wards": [s.as_json() for s in statuses],
                "stages": {k.value: v for k, v in queries.stage_counts(statuses).items()},
                "not_yet_enrolled": queries.unenrolled_wards(session),
                "triage": queries.triage_counts(session),
                "notifications": queries.notification_counts(session),
                "qsir": queries.training(session, settings, as_of),
            },
            default=str,
        )
    )


@flow(name="replay-and-record")
def _replay_recording(start: date, end: date, day: date) -> dict[str, Any]:
    recorded: dict[str, Any] = {}
    settings = get_settings()
    for ticked in replay_days(start, end):
        if ticked == day:
            with Session(get_engine(settings.database_url)) as session:
                recorded = _recorded(session, settings, day)
    return recorded


@pytest.mark.slow
@pytest.mark.timeout(900)  # a replay of two waves: minutes on a loaded two-core machine
def test_status_as_of_a_replayed_day_is_what_the_day_recorded(
    fresh_settings: Settings, prefect_harness: None, tmp_path
) -> None:
    register = write_register(tmp_path / "wards.csv", wards_per_site=6)
    prepare_demo(fresh_settings, START, END, register)
    with in_process_runs():  # no heartbeats, as the demo runs it
        recorded = _replay_recording(START, END, RECORDED)
    # Mid-programme: most of wave 1's fifteen wards complete (a ward that returns nothing until
    # chased is still in triage), wave 2's three just launched.
    assert 10 <= recorded["stages"]["complete"] <= 15 and len(recorded["wards"]) == 18

    then = _status_json(RECORDED)
    assert {k: then[k] for k in COMPARED} == {k: recorded[k] for k in COMPARED}
    assert then["qsir"]["nominated"] == recorded["qsir"]["nominated"]
    assert then["qsir"]["buckets"] == recorded["qsir"]["buckets"]
    # The year end is another picture: more wards complete, more messages.
    final = _status_json(END)
    assert final["stages"]["complete"] > recorded["stages"]["complete"] and final != then

    # The demo database defaults to its latest date, and says so.
    result = runner.invoke(app, ["status"])
    assert "(the latest date in this demo database)" in " ".join(result.output.split())

    engine = get_engine(fresh_settings.database_url)
    with Session(engine) as session:
        _no_negative_durations(session)
        for day in (RECORDED, END):
            _status_agrees_with_dashboard(session, fresh_settings, day)


def _no_negative_durations(session: Session) -> None:
    items = {i.id: i for i in session.exec(select(TriageItem)).all()}
    for item in items.values():
        if item.closed_at is not None:
            assert to_utc(item.closed_at) >= to_utc(item.created_at), item.issue
    for score in session.exec(select(ImprovementScore)).all():
        assert score.scored_on >= _day(items[score.triage_item_id].created_at)
        assert _day(score.created_at) >= score.scored_on
    for enr in session.exec(select(WardEnrolment)).all():
        dates = [
            enr.enrolled_at,
            enr.diagnostic_at,
            enr.engagement_at,
            enr.triage_at,
            enr.qsir_at,
            enr.completed_at,
        ]
        stamped = [to_utc(d) for d in dates if d is not None]
        assert _day(stamped[0]) == min(_day(d) for d in stamped)
        assert [_day(d) for d in stamped] == sorted(_day(d) for d in stamped)
    # The last month's board report goes out on the first day of the next.
    last = month_end_runs(START, END)[-1]
    for note in session.exec(select(Notification)).all():
        assert START <= _day(note.created_at) <= last
        if note.sent_at is not None:
            assert to_utc(note.sent_at) >= to_utc(note.created_at)


def _status_agrees_with_dashboard(session: Session, settings: Settings, day: date) -> None:
    status = queries.programme_status(session, settings, day)
    board = dashboard_data(session, settings, day)
    by_wave: dict[int, dict[str, int]] = {}
    for ward in status["wards"]:
        row = by_wave.setdefault(ward["wave"], {})
        row[ward["stage"]] = row.get(ward["stage"], 0) + 1
    assert {int(w["label"].split()[1]): w["counts"] for w in board.by_wave} == by_wave
    assert {t["category"]: t["total"] for t in board.triage if t["total"]} == {
        k: sum(v.values()) for k, v in status["triage"].items()
    }
    assert {t["category"]: t["closed"] for t in board.triage if t["total"]} == {
        k: v.get("closed", 0) for k, v in status["triage"].items()
    }
    assert board.trained == status["qsir"]["trained"]
    assert board.booked == status["qsir"]["buckets"]["in_training"]
