"""The demo's simulated ward staff and team act through the same commands people use: trackers
returned to the inbox, scores and decisions through the bus, registers taken per teaching day."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, func, select

from tests.utils.programme import TRIAGE_CSV, ward_in_programme
from wardprog.config import Settings
from wardprog.demo.follow_up import simulate_follow_up
from wardprog.demo.staff import simulate_attendance
from wardprog.models import Action, QsirAttendance, TriageItem, TriageStatus
from wardprog.services.tracker import tracker_inbox

LATE = date(2026, 12, 31)


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_follow_up_goes_through_trackers_and_commands(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    ward = ward_in_programme(session, settings, tmp_path)
    ward.ctx.enrolment.triage_at = datetime(2026, 2, 16, 12)
    session.add(ward.ctx.enrolment)
    session.commit()
    assert "drawer" in TRIAGE_CSV

    changes = simulate_follow_up(session, LATE)
    session.commit()

    assert changes > 0
    actions = session.exec(select(Action)).all()
    by_command: dict[str, set[str]] = {}
    for a in actions:
        by_command.setdefault(a.command, set()).add(a.source_kind)
    assert by_command["ScoreProject"] == {"demo"}
    fix = session.get(TriageItem, ward.fix)
    assert fix is not None
    if fix.status is TriageStatus.closed:  # unless this fix is one that slips
        assert by_command["CloseItem"] >= {"file"}
        processed = tracker_inbox(settings, ward.code) / "processed"
        assert [p.suffix for p in processed.iterdir()] == [".csv"]
    before = _count(session, Action)
    assert simulate_follow_up(session, LATE) == 0  # replaying the same date changes nothing
    session.commit()
    assert _count(session, Action) == before

    report = simulate_attendance(session, LATE)
    session.commit()
    assert report.sessions_recorded == 10  # two nominees, five teaching days
    registers = session.exec(select(Action).where(Action.command == "TakeRegister")).all()
    assert len(registers) == 5 and {a.source_kind for a in registers} == {"demo"}
    assert _count(session, QsirAttendance) == 10
    assert simulate_attendance(session, LATE).sessions_recorded == 0
