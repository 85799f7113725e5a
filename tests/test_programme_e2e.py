"""The programme end to end through the Prefect flows, on SQLite and PostgreSQL.

A small trust (3 sites x 6 wards: two waves, 5 + 1 wards per site) replayed over two quarters with
simulated ward staff: every ward reaches `complete`, every ward has a pack, an event, triage items
and nominations; a second replay writes no new rows and no new notifications.

The same replay checks the one clock: the programme is recorded right after one simulated day,
and once the two waves are over `wardprog status --as-of` that day must show what was recorded;
no duration is negative, and `status` and the dashboard agree on every figure they share.
"""

import json
from collections import Counter
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prefect import flow
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from flows.board import month_end_runs
from flows.report import programme_report
from wardprog import queries
from wardprog.cli import app
from wardprog.config import Settings, get_settings
from wardprog.db import get_engine
from wardprog.demo.replay import in_process_runs, replay_days
from wardprog.demo.runner import prepare_demo, run_demo, write_register
from wardprog.models import (
    DiagnosticSnapshot,
    ImprovementScore,
    Notification,
    Stage,
    TriageItem,
    WardEnrolment,
    Wave,
    WaveStatus,
)
from wardprog.reports.dashboard import dashboard_data
from wardprog.rules.slots import to_utc
from wardprog.status import table_counts

pytestmark = pytest.mark.slow
runner = CliRunner()
LONDON = ZoneInfo("Europe/London")


def _day(value: datetime) -> date:
    return to_utc(value).astimezone(LONDON).date()


# The recorded day: the second wave's launch, mid-programme (wave 1 done, wave 2 starting).
RECORDED = date(2026, 4, 1)
START, END = date(2026, 1, 2), date(2026, 6, 30)
# What `status --json` shows and the record after the day's run compares (the QSIR forecast
# and upcoming cohorts look forward, so they are not part of what a day "was").
COMPARED = ("waves", "wards", "stages", "not_yet_enrolled", "triage", "notifications")


@pytest.mark.timeout(900)  # two replays of two waves: minutes on a loaded two-core machine
def test_two_waves_end_to_end_and_idempotent(fresh_settings, prefect_harness, tmp_path):
    start, end = START, END
    register = write_register(tmp_path / "wards.csv", wards_per_site=6)
    prepare_demo(fresh_settings, start, end, register)
    # The first replay is `run_demo`'s, recording the programme right after one simulated day.
    with in_process_runs():  # no heartbeats, as the demo runs it
        recorded = _replay_recording(start, end, RECORDED)
        programme_report(as_of=end)

    engine = get_engine(fresh_settings.database_url)
    with Session(engine) as session:
        enrolments = session.exec(select(WardEnrolment)).all()
        waves = session.exec(select(Wave).order_by(col(Wave.number))).all()
        first = table_counts(session)
    assert len(enrolments) == 18
    assert {e.stage for e in enrolments} == {Stage.complete}
    assert [(w.number, w.status) for w in waves] == [
        (1, WaveStatus.complete),
        (2, WaveStatus.complete),
    ]
    assert first["engagementevent"] == 18
    with Session(engine) as session:
        kinds = Counter(s.kind for s in session.exec(select(DiagnosticSnapshot)).all())
    # a baseline per ward, and the 3-month re-check for wave 1 (events in Jan/Feb)
    assert kinds["baseline"] == 18 and kinds["recheck_3m"] == 15
    assert first["triageitem"] >= 18 and first["qsirnomination"] >= 18
    assert first["notification"] > 0
    packs = list((fresh_settings.output_dir / "packs").glob("*.html"))
    assert len(packs) == 18
    # A board report (HTML, and its PDF where Chromium is installed) for each month replayed.
    board = fresh_settings.output_dir / "board"
    assert sorted(p.name for p in board.glob("*.html")) == [f"2026-0{m}.html" for m in range(1, 7)]
    with Session(engine) as session:
        sent = session.exec(select(Notification).where(Notification.kind == "board_report")).all()
    assert len(sent) == 6

    _status_as_of_is_what_the_day_recorded(fresh_settings, recorded)

    prepare_demo(fresh_settings, start, end, register)
    run_demo(start, end)
    with Session(engine) as session:
        assert table_counts(session) == first


def _status_as_of_is_what_the_day_recorded(settings: Settings, recorded: dict[str, Any]) -> None:
    """One clock: `wardprog status --as-of` the recorded day, once the year is over, is the
    programme as the database held it right after that day's run; no duration is negative;
    `status` and the dashboard agree on every figure they share."""
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

    with Session(get_engine(settings.database_url)) as session:
        _no_negative_durations(session)
        for day in (RECORDED, END):
            _status_agrees_with_dashboard(session, settings, day)


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
