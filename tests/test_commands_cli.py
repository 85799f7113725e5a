"""Every action from the command line (typer's runner, real databases): the effect, the audit
row, the notification where one is due, and bad input -> exit 2, a message, nothing written."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner, Result

from tests.utils.programme import Ward, ward_in_programme
from wardprog.cli import app
from wardprog.config import Settings
from wardprog.models import (
    Action,
    ChangeDecision,
    EngagementEvent,
    EventStatus,
    ImprovementScore,
    NominationStatus,
    Notification,
    QsirAttendance,
    QsirNomination,
    StaffMember,
    TriageItem,
    TriageStatus,
    WardEngagementPreference,
)
from wardprog.services.views import ITEM_FIELDS

runner = CliRunner()


@pytest.fixture
def ward(session: Session, settings: Settings, tmp_path: Path) -> Ward:
    return ward_in_programme(session, settings, tmp_path)


def cli(*args: object) -> Result:
    return runner.invoke(app, [str(a) for a in args])


def ok(*args: object) -> Result:
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result


def refused(session: Session, *args: object, says: str) -> Result:
    """Exit 2, the message on stderr naming the bad value, and not one row written."""
    before = _counts(session)
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr, result.stderr
    assert "Traceback" not in result.output
    session.expire_all()
    assert _counts(session) == before
    return result


def _counts(session: Session) -> dict[str, int]:
    return {
        m.__name__: session.exec(select(func.count()).select_from(m)).one()
        for m in (Action, Notification, ImprovementScore, QsirAttendance, StaffMember)
    }


def actions(session: Session) -> list[Action]:
    session.expire_all()
    return list(session.exec(select(Action).order_by(col(Action.id))).all())


def notes(session: Session, kind: str) -> list[Notification]:
    return list(session.exec(select(Notification).where(Notification.kind == kind)).all())


def lines(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


# --- items -------------------------------------------------------------------------------------


def test_close_item_records_audits_and_tells_the_ward(session: Session, ward: Ward) -> None:
    result = ok(
        "items",
        "close",
        ward.fix,
        "--outcome",
        "New drawer fitted",
        "--by",
        "Sam Lee",
        "--on",
        "2026-03-02",
    )
    assert f"closed item {ward.fix}" in result.stdout
    session.expire_all()
    item = session.get(TriageItem, ward.fix)
    assert item is not None and item.status is TriageStatus.closed
    assert item.outcome == "New drawer fitted" and item.closed_by == "Sam Lee"
    (action,) = actions(session)
    assert (action.command, action.actor_name, action.acted_on) == (
        "CloseItem",
        "Sam Lee",
        date(2026, 3, 2),
    )
    assert (action.source_kind, action.ward_code, action.item_id) == ("cli", ward.code, ward.fix)
    assert action.fields == {
        "on": "2026-03-02",
        "item_id": ward.fix,
        "outcome": "New drawer fitted",
    }
    (note,) = notes(session, "you_said_we_did")
    assert "New drawer fitted" in note.body_text and note.ward_code == ward.code

    # Closing again changes nothing and sends nothing more.
    ok("items", "close", ward.fix, "--outcome", "Again", "--by", "Sam Lee")
    assert len(notes(session, "you_said_we_did")) == 1


def test_close_refuses_unknown_item_and_empty_outcome(session: Session, ward: Ward) -> None:
    refused(
        session,
        "items",
        "close",
        999,
        "--outcome",
        "x",
        "--by",
        "Sam",
        says="Triage item 999 does not exist",
    )
    refused(session, "items", "close", ward.fix, "--outcome", "  ", "--by", "Sam", says="outcome")
    refused(
        session,
        "items",
        "close",
        ward.fix,
        "--outcome",
        "x",
        "--by",
        "Sam",
        "--on",
        "2026-13-01",
        says="2026-13-01",
    )


def test_reopen_then_close_again_is_news_again(session: Session, ward: Ward) -> None:
    ok("items", "close", ward.fix, "--outcome", "Fixed", "--by", "Sam")
    refused(
        session,
        "items",
        "reopen",
        ward.improve,
        "--reason",
        "x",
        "--by",
        "Sam",
        says="already open",
    )
    ok("items", "reopen", ward.fix, "--reason", "Drawer broke again", "--by", "Ward sister")
    session.expire_all()
    item = session.get(TriageItem, ward.fix)
    assert item is not None and item.status is TriageStatus.open and item.reopened_count == 1
    assert "Drawer broke again" in item.notes
    ok("items", "close", ward.fix, "--outcome", "Replaced the whole unit", "--by", "Sam")
    assert len(notes(session, "you_said_we_did")) == 2
    assert [a.command for a in actions(session)] == ["CloseItem", "ReopenItem", "CloseItem"]


def test_score_project(session: Session, ward: Ward) -> None:
    result = ok(
        "items",
        "score",
        ward.improve,
        "3.0",
        "--why",
        "Falls down 30% on run chart",
        "--by",
        "QI coach",
        "--evidence-note",
        "The run chart is the team's own; no aim set yet",
        "--on",
        "2026-04-01",
    )
    assert "scored 3.0 (modest improvement), on an evidence note" in result.stdout
    session.expire_all()
    latest = session.exec(
        select(ImprovementScore).where(ImprovementScore.scored_on == date(2026, 4, 1))
    ).one()
    assert (latest.score, latest.scored_by) == (3.0, "QI coach") and latest.evidence_note
    (action,) = actions(session)
    assert action.command == "ScoreProject" and action.fields["score"] == 3.0
    refused(session, "items", "score", ward.improve, "5.5", "--why", "x", "--by", "A", says="5.5")
    refused(session, "items", "score", ward.improve, "2.25", "--why", "x", "--by", "A", says="2.25")
    refused(
        session,
        "items",
        "score",
        ward.fix,
        "2.0",
        "--why",
        "x",
        "--by",
        "A",
        says="only improvement projects",
    )
    refused(session, "items", "score", ward.improve, "2.0", "--why", " ", "--by", "A", says="why")


def test_decide_change(session: Session, ward: Ward) -> None:
    refused(
        session,
        "items",
        "decide",
        ward.change,
        "defer",
        "--owner",
        "Matron",
        "--note",
        "Budget review",
        "--by",
        "Director",
        says="--review",
    )
    refused(
        session,
        "items",
        "decide",
        ward.fix,
        "approve",
        "--owner",
        "Matron",
        "--note",
        "ok",
        "--by",
        "Director",
        says="only change requests",
    )
    refused(
        session,
        "items",
        "decide",
        ward.change,
        "maybe",
        "--owner",
        "M",
        "--note",
        "n",
        "--by",
        "D",
        says="maybe",
    )
    ok(
        "items",
        "decide",
        ward.change,
        "defer",
        "--owner",
        "Matron",
        "--note",
        "Budget review",
        "--by",
        "Director",
        "--review",
        "2026-06-30",
        "--on",
        "2026-04-01",
    )
    session.expire_all()
    item = session.get(TriageItem, ward.change)
    assert item is not None and item.decision is ChangeDecision.defer
    assert item.review_date == date(2026, 6, 30) and item.status is TriageStatus.open
    ok(
        "items",
        "decide",
        ward.change,
        "decline",
        "--owner",
        "Matron",
        "--note",
        "No capital this year",
        "--by",
        "Director",
        "--on",
        "2026-06-30",
    )
    session.expire_all()
    item = session.get(TriageItem, ward.change)
    assert item is not None and item.status is TriageStatus.closed
    assert item.outcome == "Not agreed: No capital this year"
    (note,) = notes(session, "you_said_we_did")
    assert "No capital this year" in note.body_text
    assert [a.command for a in actions(session)] == ["DecideChange", "DecideChange"]


def test_items_json_and_filters(session: Session, ward: Ward) -> None:
    ok("items", "score", ward.improve, "1.5", "--why", "Team formed", "--by", "QI coach")
    rows = lines(ok("items", "--json"))
    assert len(rows) == 3
    assert set(ITEM_FIELDS) <= set(rows[0])
    improve = next(r for r in rows if r["id"] == ward.improve)
    assert improve["latest_score"] == 1.5 and improve["ward_code"] == ward.code
    assert improve["wave"] == 1
    ok("items", "close", ward.fix, "--outcome", "done", "--by", "A")
    assert [r["id"] for r in lines(ok("items", "--open", "--json"))] == [ward.improve, ward.change]
    assert [r["id"] for r in lines(ok("items", "--category", "change", "--json"))] == [ward.change]
    assert lines(ok("items", "--ward", "NOPE", "--json")) == []
    assert lines(ok("items", "--wave", "2", "--json")) == []
    table = ok("items", "--ward", ward.code)
    assert "Triage items (3)" in table.stdout


# --- staff and QSIR ----------------------------------------------------------------------------


def test_staff_import(session: Session, ward: Ward, tmp_path: Path) -> None:
    good = tmp_path / "esr.csv"
    good.write_text(f"Employee Number,Full Name,Ward\n30000001,Ann Example,{ward.code}\n")
    result = ok("staff", "import", good, "--by", "Workforce")
    assert "1 staff imported from esr.csv" in result.stdout
    (action,) = actions(session)
    assert action.command == "ImportStaff" and action.subject == "staff register"
    bad = tmp_path / "bad.csv"
    bad.write_text(f"Employee Number,Full Name,Ward\n30000002,Bo,{ward.code}\n30000003,Cy,XX\n")
    refused(session, "staff", "import", bad, says="row 3, column 'Ward'")
    refused(session, "staff", "import", tmp_path / "none.csv", says="file not found")


def test_take_register_from_options_and_file(session: Session, ward: Ward, tmp_path: Path) -> None:
    first, second = ward.nominees
    day = ward.cohort_days[0]
    result = ok(
        "qsir",
        "register",
        ward.cohort,
        day.isoformat(),
        "--present",
        first,
        "--by",
        "Facilitator Jo",
    )
    assert "1 present, 1 absent" in result.stdout
    session.expire_all()
    marks = {a.attended for a in session.exec(select(QsirAttendance)).all()}
    assert marks == {True, False}
    (action,) = actions(session)
    assert action.command == "TakeRegister" and action.acted_on == day
    assert action.ward_code == ward.code

    sheet = tmp_path / "register.csv"
    sheet.write_text(f"staff_number,attended\n{first},yes\n{second},yes\n")
    ok(
        "qsir",
        "register",
        ward.cohort,
        ward.cohort_days[1].isoformat(),
        "--file",
        sheet,
        "--by",
        "Facilitator Jo",
    )
    refused(
        session,
        "qsir",
        "register",
        ward.cohort,
        day.isoformat(),
        "--present",
        "99999999",
        "--by",
        "Jo",
        says="99999999",
    )
    refused(
        session,
        "qsir",
        "register",
        ward.cohort,
        "2026-04-09",
        "--present",
        first,
        "--by",
        "Jo",
        says="2026-04-09 is not a teaching day",
    )
    refused(
        session,
        "qsir",
        "register",
        "QSIR-X",
        day.isoformat(),
        "--present",
        first,
        "--by",
        "Jo",
        says="QSIR-X",
    )
    sheet.write_text(f"staff_number,attended\n{first},maybe\n")
    refused(
        session,
        "qsir",
        "register",
        ward.cohort,
        day.isoformat(),
        "--file",
        sheet,
        "--by",
        "Jo",
        says="row 2, column 'attended'",
    )
    refused(
        session, "qsir", "register", ward.cohort, day.isoformat(), "--by", "Jo", says="--present"
    )


def test_presented_withdraw_defer_requeue(session: Session, ward: Ward) -> None:
    first, second = ward.nominees
    ok("qsir", "presented", first, "--on", "2026-05-06", "--by", "Facilitator Jo")
    session.expire_all()
    by_status = {n.id: n for n in session.exec(select(QsirNomination)).all()}
    assert any(n.project_presented_on == date(2026, 5, 6) for n in by_status.values())

    ok("qsir", "defer", second, "--reason", "Long-term sickness", "--by", "Manager")
    session.expire_all()
    statuses = sorted(n.status.value for n in session.exec(select(QsirNomination)).all())
    assert statuses == ["booked", "deferred"]
    assert len(notes(session, "qsir_cancelled")) == 1  # the teaching days leave calendars
    refused(
        session,
        "qsir",
        "defer",
        second,
        "--reason",
        "again",
        "--by",
        "M",
        says="cannot become deferred",
    )
    refused(session, "qsir", "requeue", first, says="cannot become nominated")
    ok("qsir", "requeue", second, "--by", "Manager")
    ok("qsir", "withdraw", first, "--reason", "Left the trust", "--by", "Manager")
    session.expire_all()
    statuses = sorted(n.status.value for n in session.exec(select(QsirNomination)).all())
    assert statuses == [NominationStatus.nominated.value, NominationStatus.withdrawn.value]
    refused(
        session,
        "qsir",
        "withdraw",
        "00000000",
        "--reason",
        "x",
        "--by",
        "M",
        says="'00000000' is not in the staff register",
    )
    refused(session, "qsir", "withdraw", first, "--reason", " ", "--by", "M", says="reason")
    assert [a.command for a in actions(session)] == [
        "RecordPresentation",
        "DeferNominee",
        "RequeueNominee",
        "WithdrawNominee",
    ]
    assert all(a.ward_code == ward.code for a in actions(session))


# --- engagement --------------------------------------------------------------------------------


def test_events_list_reschedule_cancel(session: Session, ward: Ward) -> None:
    (row,) = lines(ok("events", "list", "--json"))
    assert row["ward_code"] == ward.code and row["status"] == "scheduled"
    start = date.fromisoformat(row["starts_at"][:10])
    new_day = start + timedelta(days=7)
    while new_day.weekday() >= 5:
        new_day += timedelta(days=1)
    ok(
        "events",
        "reschedule",
        ward.code,
        "--wave",
        "1",
        "--to",
        f"{new_day} 10:00",
        "--reason",
        "Ward on outbreak measures",
        "--by",
        "Coordinator",
        "--on",
        "2026-02-16",
    )
    session.expire_all()
    event = session.get(EngagementEvent, ward.event_id)
    assert event is not None and event.sequence == 1
    (moved,) = lines(ok("events", "list", "--json"))
    assert moved["starts_at"].startswith(f"{new_day}T10:00")
    refused(
        session,
        "events",
        "reschedule",
        ward.code,
        "--wave",
        "1",
        "--to",
        "2026-02-10 10:00",
        "--reason",
        "x",
        "--on",
        "2026-02-16",
        says="staff need notice",
    )
    refused(
        session,
        "events",
        "reschedule",
        "NOPE",
        "--wave",
        "1",
        "--to",
        f"{new_day} 10:00",
        "--reason",
        "x",
        says="'NOPE'",
    )
    refused(
        session,
        "events",
        "reschedule",
        ward.code,
        "--wave",
        "1",
        "--to",
        "tomorrow",
        "--reason",
        "x",
        says="tomorrow",
    )
    ok("events", "cancel", ward.code, "--wave", "1", "--reason", "Ward closed", "--by", "Coord")
    session.expire_all()
    event = session.get(EngagementEvent, ward.event_id)
    assert event is not None and event.status is EventStatus.cancelled
    assert len(notes(session, "engagement_cancelled")) == 1
    refused(session, "events", "cancel", ward.code, "--wave", "2", "--reason", "x", says="wave 2")
    assert [a.command for a in actions(session)] == ["RescheduleEvent", "CancelEvent"]


def test_ward_preferences(session: Session, ward: Ward) -> None:
    ok(
        "wards",
        "preferences",
        ward.code,
        "--starts",
        "13:30,10:00",
        "--avoid",
        "mon",
        "--by",
        "Manager",
    )
    session.expire_all()
    pref = session.exec(select(WardEngagementPreference)).one()
    assert pref.preferred_starts == ["13:30", "10:00"] and pref.avoid_weekdays == [0]
    refused(session, "wards", "preferences", ward.code, "--starts", "25:00", says="25:00")
    refused(session, "wards", "preferences", ward.code, "--avoid", "funday", says="funday")
    refused(session, "wards", "preferences", "NOPE", "--avoid", "mon", says="'NOPE'")


# --- audit -------------------------------------------------------------------------------------


def test_audit_lists_actions_by_ward_and_date(session: Session, ward: Ward) -> None:
    ok(
        "items",
        "close",
        ward.fix,
        "--outcome",
        "done",
        "--by",
        "Sam",
        "--email",
        "sam@trust.example",
        "--on",
        "2026-03-01",
    )
    ok(
        "items",
        "score",
        ward.improve,
        "2.0",
        "--why",
        "PDSA 1",
        "--by",
        "Coach",
        "--on",
        "2026-04-01",
    )
    rows = lines(ok("audit", "--json"))
    assert [r["command"] for r in rows] == ["CloseItem", "ScoreProject"]
    assert rows[0]["actor_email"] == "sam@trust.example" and rows[0]["source"] == "cli"
    assert [r["command"] for r in lines(ok("audit", "--since", "2026-03-15", "--json"))] == [
        "ScoreProject"
    ]
    assert lines(ok("audit", "--ward", "OTHER", "--json")) == []
    assert len(lines(ok("audit", "--ward", ward.code.lower(), "--json"))) == 2
    assert "Actions (2)" in ok("audit").stdout
    refused(
        session,
        "items",
        "close",
        ward.change,
        "--outcome",
        "x",
        "--by",
        "A",
        "--email",
        "not-an-email",
        says="not-an-email",
    )


def test_qsir_nominate(session: Session, ward: Ward) -> None:
    others = [
        s.staff_number
        for s in session.exec(select(StaffMember).order_by(StaffMember.staff_number)).all()
        if s.staff_number not in ward.nominees
    ]
    refused(session, "qsir", "nominate", ward.code, "NOPE-1", "--by", "Manager", says="NOPE-1")
    result = ok(
        "qsir", "nominate", ward.code, others[0], "--course", "fundamentals", "--by", "Manager"
    )
    assert "1 nominated for QSIR fundamentals" in result.output
    (action,) = [a for a in actions(session) if a.command == "NominateStaff"]
    assert action.source_kind == "cli" and action.ward_code == ward.code
    session.expire_all()
    assert len(session.exec(select(QsirNomination)).all()) == len(ward.nominees) + 1
