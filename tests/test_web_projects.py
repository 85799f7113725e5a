"""The ward page's PDSA form builds the same AddPdsa command as the CLI and Prefect form."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlmodel import Session, col, select

from tests.test_web import _csrf, _signed_in, wards, web_settings  # noqa: F401 (fixtures)
from wardprog.config import Settings
from wardprog.db import get_engine, session_scope
from wardprog.demo.staff import write_staff_extract
from wardprog.models import (
    Action,
    CoachingSession,
    ImprovementProject,
    ImprovementScore,
    PdsaCycle,
    PdsaDecision,
    PpiLevel,
    ProjectStatus,
    QiEventAttendance,
    StaffMember,
    TriageItem,
    Ward,
)
from wardprog.services.projects import ensure_project_for_item
from wardprog.services.staff_register import import_staff
from wardprog.web.links import ward_scope


def test_log_a_pdsa_cycle_from_the_ward_page(
    web_settings: Settings,  # noqa: F811
    wards: dict[str, int],  # noqa: F811
) -> None:
    engine = get_engine(web_settings.database_url)
    with session_scope(engine) as session:
        item = session.get(TriageItem, wards["improve"])
        assert item is not None and item.due_date is not None
        ensure_project_for_item(session, item, item.due_date)
    client = _signed_in(web_settings, ward_scope("NGH-ASH"))
    page = client.get("/w/NGH-ASH").text
    assert f'action="/w/NGH-ASH/items/{wards["improve"]}/pdsa"' in page
    token = _csrf(page)
    done = client.post(
        f"/w/NGH-ASH/items/{wards['improve']}/pdsa",
        data={"csrf": token, "plan": "Safety huddle at 08:00", "decision": "adopt"},
    )
    assert done.status_code == 303
    assert "PDSA cycle 1 (adopt)" in client.get("/w/NGH-ASH").text
    refused = client.post(
        f"/w/NGH-ASH/items/{wards['fix']}/pdsa", data={"csrf": token, "plan": "x"}
    )
    assert refused.status_code == 404
    with Session(engine) as session:
        (cycle,) = session.exec(select(PdsaCycle)).all()
        assert (cycle.plan, cycle.decision) == ("Safety huddle at 08:00", PdsaDecision.adopt)
        (action,) = session.exec(select(Action).where(Action.command == "AddPdsa")).all()
        assert (action.source_kind, action.actor_email) == ("web", "ann@trust.example")


def _staff(settings: Settings, tmp_path: Path) -> list[str]:
    engine = get_engine(settings.database_url)
    with session_scope(engine) as session:
        import_staff(session, write_staff_extract([("NGH-ASH", "Ann Lee")], tmp_path / "s.csv"))
        rows = session.exec(select(StaffMember).order_by(col(StaffMember.id))).all()
        return [s.staff_number for s in rows]


def test_project_records_coaching_measures_scores_and_qi_events_from_the_ward_page(
    web_settings: Settings,  # noqa: F811
    wards: dict[str, int],  # noqa: F811
    tmp_path: Path,
) -> None:
    """Every project form builds the command the CLI and Prefect forms build (source web):
    start, update (aim, PPI, sustainability, strategic aim, people, status with reason),
    coaching, a measurement, a score (refused at 3.0 without evidence, then carried by the
    note) and QI Café attendance of the ward's own staff only."""
    staff = _staff(web_settings, tmp_path)
    aim = web_settings.strategic_aims[0]
    client = _signed_in(web_settings, ward_scope("NGH-ASH"))
    page = client.get("/w/NGH-ASH").text
    assert 'action="/w/NGH-ASH/projects/start"' in page and 'id="qi-events"' in page
    token = _csrf(page)

    def post(url: str, **data: object) -> str:
        done = client.post(url, data={"csrf": token, **data})
        assert done.status_code == 303, done.text
        return client.get("/w/NGH-ASH").text

    page = post("/w/NGH-ASH/projects/start", title="Protected mealtimes", lead="Ann Lee",
                strategic_aim=aim, aim="")  # fmt: skip
    with Session(get_engine(web_settings.database_url)) as session:
        project = session.exec(
            select(ImprovementProject).where(ImprovementProject.title == "Protected mealtimes")
        ).one()
        pid = project.id
    assert f"project {pid} started: Protected mealtimes" in page and f'id="project-{pid}"' in page
    page = post(f"/w/NGH-ASH/projects/{pid}/update", title="Protected mealtimes",
                aim="Meals missed down from 12 to 6 a week by July", aim_measure="meals missed",
                aim_baseline="12", aim_target="6", aim_direction="decrease",
                aim_by="2026-07-31", ppi_level="co_produced", ppi_note="Patient panel",
                co2e_kg="15.5", sustainability_note="Less food waste", strategic_aim=aim,
                lead="Ann Lee", qi_coach="Priya", status="active", stop_reason="")  # fmt: skip
    assert f"project {pid} updated: aim, aim_baseline, aim_by, aim_direction" in page
    page = post(f"/w/NGH-ASH/projects/{pid}/coaching", adviser="Priya", minutes="45",
                held_on="2026-01-04", note="Driver diagram")  # fmt: skip
    assert "45 min coaching with Priya on 2026-01-04" in page
    page = post(f"/w/NGH-ASH/projects/{pid}/score", score="3.0", why="Fewer missed meals")
    assert "needs evidence" in page and "has no value yet" in page
    page = post(f"/w/NGH-ASH/projects/{pid}/measure", value="11", measured_on="2026-01-04")
    assert "meals missed measured 11 on 2026-01-04" in page
    page = post(f"/w/NGH-ASH/projects/{pid}/score", score="3.0", why="Fewer missed meals",
                evidence_note="Weekly audit starts in February")  # fmt: skip
    assert f"project {pid} scored 3.0 (modest improvement), on an evidence note" in page
    assert "Weekly audit starts in February" in page  # the score history shows the evidence
    page = post(f"/w/NGH-ASH/projects/{pid}/update", status="stopped", stop_reason="")
    assert "give a reason to stop it" in page
    page = post(f"/w/NGH-ASH/projects/{pid}/update", status="stopped",
                stop_reason="Ward moved to a new kitchen")  # fmt: skip
    assert f"project {pid} updated: status, stop_reason" in page
    page = post("/w/NGH-ASH/qi-events", event_kind="qi_cafe", topic="Run charts",
                held_on="2026-01-05", attendees=staff[:2])  # fmt: skip
    assert "QI Café 2026-01-05 &#39;Run charts&#39;: 2 attendee(s) recorded" in page

    # Another ward's project and staff are refused before any command is built.
    with session_scope(get_engine(web_settings.database_url)) as session:
        beech = session.exec(select(Ward).where(Ward.code == "NGH-BEE")).one()
        other = ImprovementProject(title="Beech's", ward_id=beech.id, started_on=date(2026, 1, 1))
        session.add(other)
        session.flush()
        other_id = other.id
    foreign = client.post(f"/w/NGH-ASH/projects/{other_id}/coaching",
                          data={"csrf": token, "adviser": "x", "minutes": "5"})  # fmt: skip
    assert foreign.status_code == 403
    stranger = client.post("/w/NGH-ASH/qi-events", data={"csrf": token, "event_kind": "qi_cafe",
                           "topic": "x", "attendees": ["NOT-HERE"]})  # fmt: skip
    assert stranger.status_code == 403

    with Session(get_engine(web_settings.database_url)) as session:
        p = session.get(ImprovementProject, pid)
        assert p is not None
        assert (p.aim_measure, p.aim_baseline, p.aim_target, p.aim_direction, p.aim_by) == (
            "meals missed", 12.0, 6.0, "decrease", date(2026, 7, 31))  # fmt: skip
        assert (p.ppi_level, p.co2e_kg, p.strategic_aim, p.qi_coach) == (
            PpiLevel.co_produced, 15.5, aim, "Priya")  # fmt: skip
        assert (p.status, p.stop_reason) == (ProjectStatus.stopped, "Ward moved to a new kitchen")
        (score,) = session.exec(select(ImprovementScore).where(ImprovementScore.project_id == pid))
        assert (score.triage_item_id, score.evidence_note) == (
            None,
            "Weekly audit starts in February",
        )
        assert len(session.exec(select(CoachingSession)).all()) == 1
        assert len(session.exec(select(QiEventAttendance)).all()) == 2
        actions = session.exec(select(Action).order_by(col(Action.id))).all()
        assert [a.command for a in actions] == [
            "StartProject", "UpdateProject", "LogCoaching", "RecordMeasurement", "ScoreProject",
            "UpdateProject", "RecordQiEvent",
        ]  # fmt: skip
        assert {(a.source_kind, a.actor_email) for a in actions} == {("web", "ann@trust.example")}


def test_an_items_score_from_the_ward_page_carries_the_evidence_note(
    web_settings: Settings,  # noqa: F811
    wards: dict[str, int],  # noqa: F811
) -> None:
    client = _signed_in(web_settings, ward_scope("NGH-ASH"))
    page = client.get("/w/NGH-ASH").text
    assert 'name="evidence_note"' in page
    token, item = _csrf(page), wards["improve"]
    client.post(f"/w/NGH-ASH/items/{item}/score", data={"csrf": token, "score": "3.5",
                                                        "why": "Handover audit"})  # fmt: skip
    assert "needs evidence" in client.get("/w/NGH-ASH").text
    client.post(f"/w/NGH-ASH/items/{item}/score", data={"csrf": token, "score": "3.5",
                "why": "Handover audit", "evidence_note": "Audit is quarterly"})  # fmt: skip
    assert f"item {item} scored 3.5 (improvement), on an evidence note" in client.get(
        "/w/NGH-ASH").text  # fmt: skip
    with Session(get_engine(web_settings.database_url)) as session:
        row = session.exec(select(ImprovementScore).where(ImprovementScore.score == 3.5)).one()
        assert row.evidence_note == "Audit is quarterly" and row.project_id is not None
