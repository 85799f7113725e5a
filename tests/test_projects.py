"""Improvement projects from the command line on both databases: every `improve` item gets its
record, projects started outside the programme, PDSA and coaching logs, QI Café and training
events, and the QI strategy's scorecard (`wardprog kpis --json`) against hand-counted records."""

from __future__ import annotations

import json
from datetime import date
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
    CoachingSession,
    ImprovementProject,
    ImprovementScore,
    PdsaCycle,
    PdsaDecision,
    PpiLevel,
    ProjectMeasurement,
    ProjectStatus,
    QiEvent,
    QiEventAttendance,
    StaffMember,
)
from wardprog.models.base import require_id
from wardprog.rules.scorecard import ProjectFacts, Targets, months_back, scorecard

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


def js(*args: object) -> Any:
    return json.loads(ok(*args, "--json").stdout)


def _counts(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        m.__name__: session.exec(select(func.count()).select_from(m)).one()
        for m in (Action, ImprovementProject, PdsaCycle, CoachingSession, QiEventAttendance)
    }


def refused(session: Session, *args: object, says: str) -> None:
    before = _counts(session)
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert says in result.stderr, result.stderr
    assert _counts(session) == before


def project(session: Session, project_id: int) -> ImprovementProject:
    session.expire_all()
    row = session.get(ImprovementProject, project_id)
    assert row is not None
    return row


def staff_numbers(session: Session, n: int) -> list[str]:
    rows = session.exec(select(StaffMember).order_by(col(StaffMember.id))).all()
    return [s.staff_number for s in rows[:n]]


def test_every_improve_item_has_a_project_that_follows_the_item(
    session: Session, ward: Ward
) -> None:
    (p,) = session.exec(select(ImprovementProject)).all()
    assert p.triage_item_id == ward.improve and p.status is ProjectStatus.active
    assert p.title == "Falls at night in side rooms" and p.started_on == date(2026, 2, 16)
    ok("items", "close", ward.improve, "--outcome", "Falls down", "--by", "Coach", "--on",
       "2026-05-01")  # fmt: skip
    p = project(session, require_id(p))
    assert (p.status, p.completed_on) == (ProjectStatus.completed, date(2026, 5, 1))
    ok("items", "reopen", ward.improve, "--reason", "Falls back up", "--by", "Coach")
    p = project(session, require_id(p))
    assert (p.status, p.completed_on) == (ProjectStatus.active, None)
    row = json.loads(ok("projects", "--json").stdout)
    assert row["item_id"] == ward.improve and row["ward_code"] == ward.code


def test_start_and_update_a_project(session: Session, ward: Ward, settings: Settings) -> None:
    aim = settings.strategic_aims[0]
    started = js(
        "projects", "start", "Discharge before noon", "--by", "Ana Reyes", "--ward", ward.code,
        "--aim", "40% of discharges before noon by March", "--metric", "falls_per_1000_obd",
        "--metric", "complaints", "--team", "Ana Reyes", "--team", "Joe Bloggs", "--sponsor",
        "Matron", "--lead", "Ana Reyes", "--lead-email", "ana@trust.test", "--coach", "Priya",
        "--strategic-aim", aim, "--ppi", "co_produced", "--ppi-note", "Patient panel",
        "--co2e-kg", "120.5", "--sustainability-note", "Fewer taxi journeys", "--on",
        "2026-03-01",
    )  # fmt: skip
    p = project(session, started["details"]["project_id"])
    assert (p.title, p.ward_id, p.started_on) == ("Discharge before noon", ward.ctx.ward.id,
                                                  date(2026, 3, 1))  # fmt: skip
    assert p.metrics == ["falls_per_1000_obd", "complaints"]
    assert p.team == ["Ana Reyes", "Joe Bloggs"] and p.lead_email == "ana@trust.test"
    assert (p.strategic_aim, p.ppi_level, p.co2e_kg) == (aim, PpiLevel.co_produced, 120.5)
    assert started["subject"] == f"project {p.id}"

    ok("projects", "update", p.id, "--ppi", "involved", "--by", "Ana")
    assert project(session, require_id(p)).ppi_level is PpiLevel.involved
    refused(session, "projects", "update", p.id, "--status", "stopped", "--by", "Ana",
            says="give a reason")  # fmt: skip
    refused(session, "projects", "update", p.id, "--strategic-aim", "World peace", "--by", "Ana",
            says="not one of the trust's")  # fmt: skip
    refused(session, "projects", "update", p.id, "--metric", "beds", "--by", "Ana",
            says="not a diagnostic metric")  # fmt: skip
    refused(session, "projects", "update", 999, "--ppi", "none", "--by", "Ana",
            says="project 999 does not exist")  # fmt: skip
    refused(session, "projects", "update", p.id, "--by", "Ana", says="nothing to change")
    ok("projects", "update", p.id, "--status", "stopped", "--reason", "Ward closed", "--by",
       "Ana", "--on", "2026-06-01")  # fmt: skip
    p = project(session, require_id(p))
    assert (p.status, p.stop_reason, p.completed_on) == (
        ProjectStatus.stopped, "Ward closed", date(2026, 6, 1))  # fmt: skip
    assert [r["status"] for r in map(json.loads, ok("projects", "--json").stdout.splitlines())] \
        == ["active", "stopped"]  # fmt: skip


def test_pdsa_and_coaching_logs(session: Session, ward: Ward) -> None:
    (p,) = session.exec(select(ImprovementProject)).all()
    ok(
        "pdsa",
        "add",
        p.id,
        "--plan",
        "Intentional rounding at night",
        "--prediction",
        "Fewer falls",
        "--by",
        "Sister",
        "--started",
        "2026-03-01",
        "--on",
        "2026-03-14",
    )
    ok(
        "pdsa",
        "add",
        p.id,
        "--plan",
        "Rounding every hour",
        "--happened",
        "Done 9 nights in 10",
        "--learned",
        "Works",
        "--decision",
        "adopt",
        "--by",
        "Sister",
        "--on",
        "2026-04-01",
    )
    cycles = session.exec(select(PdsaCycle).order_by(col(PdsaCycle.number))).all()
    assert [(c.number, c.started_on, c.decision) for c in cycles] == [
        (1, date(2026, 3, 1), None),
        (2, date(2026, 4, 1), PdsaDecision.adopt),
    ]
    refused(session, "pdsa", "add", p.id, "--plan", "x", "--decision", "maybe", "--by", "S",
            says="maybe")  # fmt: skip
    out = js("coaching", "add", p.id, "--adviser", "Priya Shah", "--minutes", 45, "--note",
             "Driver diagram", "--by", "Priya Shah", "--on", "2026-03-02")  # fmt: skip
    assert out["summary"].startswith(f"project {p.id}: 45 min coaching with Priya Shah")
    (row,) = session.exec(select(CoachingSession)).all()
    assert (row.adviser, row.held_on, row.minutes) == ("Priya Shah", date(2026, 3, 2), 45)
    assert project(session, require_id(p)).qi_coach == "Priya Shah"
    refused(session, "coaching", "add", p.id, "--adviser", "P", "--minutes", 0, "--by", "P",
            says="minutes")  # fmt: skip


def test_qi_events_take_attendees_from_the_staff_register(session: Session, ward: Ward) -> None:
    a, b = staff_numbers(session, 2)
    ok("qi-events", "qi-cafe", "--topic", "Run charts", "--attendee", a, "--by", "QI team",
       "--on", "2026-03-10")  # fmt: skip
    # The same café again (a late sign-in sheet) adds only the new attendee.
    out = js("qi-events", "qi-cafe", "--topic", "Run charts", "--attendee", a, "--attendee", b,
             "--by", "QI team", "--on", "2026-03-10")  # fmt: skip
    assert out["details"]["added"] == 1
    assert len(session.exec(select(QiEvent)).all()) == 1
    assert len(session.exec(select(QiEventAttendance)).all()) == 2
    refused(session, "qi-events", "training", "--topic", "QI Fundamentals", "--attendee",
            "99999999", "--by", "QI team", says="not in the staff register: 99999999")  # fmt: skip


def _kpis(as_of: str) -> dict[str, dict[str, Any]]:
    rows = json.loads(ok("kpis", "--as-of", as_of, "--json").stdout)
    for row in rows:
        assert {"kpi", "value", "target", "numerator", "denominator", "met"} <= set(row)
    return {r["kpi"]: r for r in rows}


def test_scorecard_from_hand_counted_records(session: Session, ward: Ward) -> None:
    """P1 = the ward's improve item (started 16 Feb); P2-P5 started by command."""
    p1 = session.exec(select(ImprovementProject)).one().id

    def start(title: str, on: str, *extra: object) -> int:
        return int(js("projects", "start", title, "--by", "QI", "--on", on, *extra)
                   ["details"]["project_id"])  # fmt: skip

    p2 = start("P2", "2026-01-10", "--ppi", "involved", "--co2e-kg", 120)
    p3 = start("P3", "2026-03-01", "--sustainability-note", "Fewer journeys")
    p4 = start("P4", "2026-04-01", "--ppi", "consulted")
    p5 = start("P5", "2026-07-01", "--ppi", "informed", "--co2e-kg", 5)  # after the day
    # P1 scores 3.5 and completes; P2 (outside the programme: its own history) scores 2.0 then
    # 3.0 and completes; P3 is stopped. Both 3.0+ scores rest on a note (no numeric aim).
    ok("items", "score", ward.improve, 3.5, "--why", "Shift on the run chart", "--by", "QI",
       "--evidence-note", "Extract lags", "--on", "2026-04-01")  # fmt: skip
    ok("projects", "score", p2, 2.0, "--why", "Testing changes", "--by", "QI", "--on",
       "2026-03-01")  # fmt: skip
    ok("projects", "score", p2, 3.0, "--why", "Fewer taxis", "--by", "QI", "--evidence-note",
       "Taxi invoices are quarterly", "--on", "2026-04-20")  # fmt: skip
    ok("items", "close", ward.improve, "--outcome", "Done", "--by", "QI", "--on", "2026-04-15")
    ok("projects", "update", p2, "--status", "completed", "--by", "QI", "--on", "2026-05-01")
    ok("projects", "update", p3, "--status", "stopped", "--reason", "Ward merged", "--by", "QI",
       "--on", "2026-05-10")  # fmt: skip
    for pid, on in ((p1, "2026-03-01"), (p1, "2026-04-01"), (p4, "2026-05-01"),
                    (p5, "2026-07-02")):  # fmt: skip
        ok("coaching", "add", pid, "--adviser", "Priya", "--minutes", 30, "--by", "Priya",
           "--on", on)  # fmt: skip
    a, b, c, d = staff_numbers(session, 4)
    for on in ("2025-06-20", "2026-01-15", "2026-01-29", "2026-03-10"):
        ok("qi-events", "qi-cafe", "--topic", "Café", "--attendee", d, "--by", "QI", "--on", on)
    ok("qi-events", "training", "--topic", "QI Fundamentals", "--attendee", a, "--attendee", b,
       "--attendee", c, "--by", "QI", "--on", "2026-05-05")  # fmt: skip
    ok("qi-events", "training", "--topic", "QI Fundamentals", "--attendee", d, "--by", "QI",
       "--on", "2026-07-10")  # fmt: skip

    k = _kpis("2026-06-30")
    # Completed by the day: P1 (3.5) and P2 (3.0, its own latest): 2 of 2.
    modest = k["completed_projects_modest_improvement_pct"]
    assert {key: modest[key] for key in ("value", "target", "numerator", "denominator", "met")} == {
        "value": 100.0,
        "target": 75,
        "numerator": 2,
        "denominator": 2,
        "met": True,
    }
    # `wardprog projects` shows each project's latest score, item or standalone alike.
    listed = {r["id"]: r for r in map(json.loads, ok("projects", "--json").stdout.splitlines())}
    assert (listed[p1]["ihi_score"], listed[p2]["ihi_score"], listed[p3]["ihi_score"]) == (
        3.5, 3.0, None)  # fmt: skip
    # Started by the day: P1-P4. PPI: P2, P4. Sustainability: P2 (CO2e), P3 (note).
    assert (k["projects_with_ppi_pct"]["numerator"], k["projects_with_ppi_pct"]["denominator"],
            k["projects_with_ppi_pct"]["value"], k["projects_with_ppi_pct"]["met"]) == (
        2, 4, 50.0, True)  # fmt: skip
    green = k["projects_with_sustainability_pct"]
    assert (green["numerator"], green["denominator"], green["met"]) == (2, 4, True)
    # Coached: P1 (twice) and P4; P5's session is after the day.
    coached = k["projects_coached"]
    assert (coached["value"], coached["numerator"], coached["denominator"], coached["target"],
            coached["met"]) == (2, 2, 4, 40, False)  # fmt: skip
    # Cafés in July 2025-June 2026: January (twice) and March; June 2025 is outside.
    cafe = k["qi_cafe_months_held"]
    assert (cafe["numerator"], cafe["denominator"], cafe["target"]) == (2, 12, 12)
    # Trained: the three at May's Fundamentals day (café attendance does not count).
    trained = k["staff_trained"]
    assert (trained["value"], trained["numerator"], trained["target"], trained["met"]) == (
        3, 3, 100, False)  # fmt: skip

    early = _kpis("2026-04-10")
    modest = early["completed_projects_modest_improvement_pct"]
    assert (modest["value"], modest["numerator"], modest["denominator"]) == (None, 0, 0)
    assert early["projects_coached"]["numerator"] == 1
    assert early["projects_with_ppi_pct"]["denominator"] == 4  # P4 started on 1 April
    assert early["staff_trained"]["numerator"] == 0
    assert "QI scorecard to 2026-06-30" in ok("kpis", "--as-of", "2026-06-30").stdout


def _facts(**kw: Any) -> ProjectFacts:
    base: dict[str, Any] = dict(status="active", started_on=date(2026, 1, 1), completed_on=None,
                                latest_score=None, ppi_level="none", co2e_kg=None,
                                sustainability_note="", coached=False)  # fmt: skip
    return ProjectFacts(**(base | kw))


def test_scorecard_rule_thresholds() -> None:
    day = date(2026, 12, 31)
    projects = [
        _facts(status="completed", completed_on=date(2026, 6, 1), latest_score=3.0),
        _facts(status="completed", completed_on=date(2026, 6, 1), latest_score=3.0),
        _facts(status="completed", completed_on=date(2026, 6, 1), latest_score=3.0),
        _facts(status="completed", completed_on=date(2026, 6, 1), latest_score=2.5),
        _facts(ppi_level="informed", sustainability_note=" "),
    ]
    cafes = [date(2026, m, 3) for m in range(1, 13)]
    k = {r.kpi: r for r in scorecard(projects, staff_trained=100, qi_cafe_days=cafes, as_of=day,
                                     targets=Targets())}  # fmt: skip
    assert (k["completed_projects_modest_improvement_pct"].value, k[
        "completed_projects_modest_improvement_pct"].met) == (75.0, True)  # fmt: skip
    assert (k["projects_with_ppi_pct"].value, k["projects_with_ppi_pct"].met) == (20.0, True)
    assert k["projects_with_sustainability_pct"].numerator == 0  # a blank note is no note
    assert k["staff_trained"].met and k["qi_cafe_months_held"].met
    assert months_back(date(2026, 2, 5), 3) == [(2025, 12), (2026, 1), (2026, 2)]


def test_staff_trained_counts_qsir_courses_and_training_events_once(
    session: Session, ward: Ward
) -> None:
    from wardprog.models import Course, NominationStatus, QsirNomination

    # Staff the ward's QSIR stage did not nominate (who it picks is the demo's choice): one
    # nomination per person and course.
    nominated = set(session.exec(select(QsirNomination.staff_id)).all())
    staff = {
        s.staff_number: s
        for s in session.exec(select(StaffMember).order_by(col(StaffMember.id))).all()
        if s.id not in nominated
    }
    a, b, c = list(staff)[:3]
    for number, course, done in ((a, Course.fundamentals, date(2026, 4, 1)),
                                 (b, Course.practitioner, date(2026, 5, 1)),
                                 (c, Course.fundamentals, date(2026, 8, 1))):  # fmt: skip
        session.add(QsirNomination(staff_id=require_id(staff[number]),
                                   ward_id=require_id(ward.ctx.ward), course=course,
                                   status=NominationStatus.completed,
                                   completed_on=done))  # fmt: skip
    session.commit()
    # a also went to a QI training day: still one person trained.
    ok("qi-events", "training", "--topic", "QI Fundamentals", "--attendee", a, "--by", "QI",
       "--on", "2026-03-01")  # fmt: skip
    trained = _kpis("2026-06-30")["staff_trained"]
    assert (trained["numerator"], trained["value"]) == (2, 2)  # c completes in August
    assert _kpis("2026-08-31")["staff_trained"]["numerator"] == 3


def test_a_score_of_three_or_more_needs_evidence(session: Session, ward: Ward) -> None:
    """A standalone project with a numeric aim on its own measure (falls a month, 10 -> 5):
    3.0 is refused with no aim, with no value, with a value only 10% of the way; a note or a
    value 20% of the way lets it stand. Lower scores never need evidence."""
    pid = js("projects", "start", "Falls huddle", "--by", "QI", "--ward", ward.code, "--on",
             "2026-03-01")["details"]["project_id"]  # fmt: skip
    score = ("projects", "score", pid, 3.0, "--why", "Fewer falls", "--by", "Coach")
    refused(session, *score, "--on", "2026-03-02", says="it has no numeric aim")
    # A partial or contradictory aim is refused as a whole.
    refused(session, "projects", "update", pid, "--aim-measure", "falls a month", "--by", "QI",
            says="the aim needs a baseline and a target")  # fmt: skip
    refused(session, "projects", "update", pid, "--aim-measure", "falls a month", "--baseline",
            10, "--target", 5, "--direction", "increase", "--by", "QI",
            says="is not an increase")  # fmt: skip
    ok("projects", "update", pid, "--aim-measure", "falls a month", "--baseline", 10, "--target",
       5, "--direction", "decrease", "--aim-by", "2026-12-31", "--by", "QI")  # fmt: skip
    p = project(session, pid)
    assert (p.aim_measure, p.aim_baseline, p.aim_target, p.aim_direction, p.aim_by) == (
        "falls a month", 10.0, 5.0, "decrease", date(2026, 12, 31))  # fmt: skip
    refused(session, *score, "--on", "2026-03-02", says="has no value yet")
    ok("projects", "measure", pid, 9.5, "--by", "Sister", "--on", "2026-03-31")  # 10% there
    refused(session, *score, "--on", "2026-04-01",
            says="(9.5 on 2026-03-31) is 10% of the way")  # fmt: skip
    # Below 3.0 no evidence is asked for; a note carries a 3.0 the measure cannot show yet.
    ok("projects", "score", pid, 2.5, "--why", "Huddles daily", "--by", "Coach", "--on",
       "2026-04-01")  # fmt: skip
    noted = js(*score, "--evidence-note", "April's falls are not counted yet", "--on",
               "2026-04-02")  # fmt: skip
    assert noted["summary"] == f"project {pid} scored 3.0 (modest improvement), on an evidence note"
    # A later value 20% of the way (10 -> 9) is the evidence; a measurement can be corrected.
    ok("projects", "measure", pid, 8.5, "--by", "Sister", "--on", "2026-04-30")
    ok("projects", "measure", pid, 9.0, "--note", "one fall re-coded", "--by", "Sister", "--on",
       "2026-04-30")  # fmt: skip
    shown = js("projects", "score", pid, 3.5, "--why", "Falls down", "--by", "Coach", "--on",
               "2026-05-01")  # fmt: skip
    assert shown["summary"].endswith("evidence falls a month = 9")
    session.expire_all()
    rows = session.exec(
        select(ImprovementScore).where(ImprovementScore.project_id == pid)
        .order_by(col(ImprovementScore.id))
    ).all()  # fmt: skip
    assert [(r.triage_item_id, r.score, r.evidence_value, r.evidence_note) for r in rows] == [
        (None, 2.5, None, ""),
        (None, 3.0, None, "April's falls are not counted yet"),
        (None, 3.5, 9.0, ""),
    ]
    assert session.exec(select(func.count()).select_from(ProjectMeasurement)).one() == 2
    audit = session.exec(select(Action).where(Action.command == "RecordMeasurement")).all()
    assert [a.outcome.split(": ")[1] for a in audit] == [
        "falls a month measured 9.5 on 2026-03-31",
        "falls a month measured 8.5 on 2026-04-30",
        "falls a month corrected 9 on 2026-04-30",
    ]


def test_own_measurements_refuse_what_they_cannot_record(session: Session, ward: Ward) -> None:
    refused(session, "projects", "measure", 999, 3, "--by", "Sister",
            says="project 999 does not exist")  # fmt: skip
    result = cli("projects", "measure", 1, "nan", "--by", "Sister")
    assert result.exit_code == 2 and "finite number" in result.stderr
