"""Every action deployment in prefect.yaml, run through the Prefect API with the parameters a
Run form would send: the database changes, the run is named after the action, its result
carries the audit row's id, and a form value off the scale is refused before the run starts."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.deployments.runner import RunnerDeployment
from prefect.flow_engine import run_flow
from prefect.flows import Flow
from prefect.states import State
from sqlmodel import Session, col, select

import flows.actions
from tests.utils.programme import Ward, ward_in_programme
from wardprog.config import Settings
from wardprog.models import (
    Action,
    EngagementEvent,
    EscalationOwner,
    EventStatus,
    ImprovementProject,
    ImprovementScore,
    NominationStatus,
    PdsaCycle,
    ProjectStatus,
    QiEventAttendance,
    QsirAttendance,
    QsirNomination,
    StaffMember,
    Theme,
    TriageItem,
    TriageStatus,
    WardEngagementPreference,
)

ROOT = Path(__file__).resolve().parent.parent


def _action_deployments() -> dict[str, Flow[..., Any]]:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    out = {}
    for dep in spec["deployments"]:
        path, func = dep["entrypoint"].split(":")
        if path == "flows/actions.py":
            out[dep["name"]] = getattr(flows.actions, func)
    return out


DEPLOYMENTS = _action_deployments()


def run_action(name: str, parameters: dict[str, Any]) -> tuple[FlowRun, Any]:
    """Create the deployment, start a run of it with ``parameters``, execute it here."""
    fl = DEPLOYMENTS[name]
    # to_deployment and run_flow are typed for async callers too; these flows are sync.
    cast(RunnerDeployment, fl.to_deployment(name=name)).apply()
    created = cast(FlowRun, run_deployment(f"{fl.name}/{name}", parameters=parameters, timeout=0))
    state = cast(
        State[Any],
        run_flow(fl, flow_run=created, parameters=created.parameters, return_type="state"),
    )
    with get_client(sync_client=True) as client:
        final = client.read_flow_run(created.id)
    assert final.state is not None
    result = state.result(raise_on_failure=False)
    return final, result


def _action(session: Session, action_id: int) -> Action:
    session.expire_all()
    action = session.get(Action, action_id)
    assert action is not None
    return action


def test_every_action_deployment_is_tested() -> None:
    assert set(DEPLOYMENTS) == {
        "close-item", "reopen-item", "record-ihi-score", "decide-change", "import-staff",
        "take-qsir-register", "record-qsir-presentation", "withdraw-nominee", "defer-nominee",
        "requeue-nominee", "reschedule-event", "cancel-event", "set-engagement-preferences",
        "start-project", "update-project", "add-pdsa", "log-coaching", "record-qi-event",
        "import-owners", "record-event-held", "merge-themes", "split-theme", "defer-ward",
        "link-qsir-project", "score-project", "record-measurement",
    }  # fmt: skip


@pytest.fixture
def ward(session: Session, settings: Settings, tmp_path: Path) -> Ward:
    return ward_in_programme(session, settings, tmp_path)


def test_triage_actions_from_the_prefect_form(
    session: Session, ward: Ward, prefect_harness: None
) -> None:
    run, result = run_action(
        "record-ihi-score",
        {"item_id": ward.improve, "score": 3.0, "why": "Run chart shift", "by": "QI coach",
         "evidence_note": "The monthly extract lags the change", "on": "2026-04-01"},
    )  # fmt: skip
    assert run.state is not None and run.state.is_completed(), run.state
    assert run.name == f"score 3.0 · {ward.code} item {ward.improve}"
    action = _action(session, result["action_id"])
    assert (action.command, action.source_kind) == ("ScoreProject", "prefect")
    assert action.source_ref == f"flow run {run.id}" and action.acted_on == date(2026, 4, 1)
    assert session.exec(select(ImprovementScore).where(ImprovementScore.score == 3.0)).one()

    # The form refuses a score off the scale before anything runs.
    with pytest.raises(Exception, match=r"5\.5|less than or equal"):
        run_action("record-ihi-score", {"item_id": ward.improve, "score": 5.5, "why": "x",
                                        "by": "QI coach"})  # fmt: skip

    run, result = run_action(
        "close-item", {"item_id": ward.fix, "outcome": "New drawer", "by": "Sam"}
    )
    assert run.name == f"close · {ward.code} item {ward.fix}"
    session.expire_all()
    assert session.get_one(TriageItem, ward.fix).status is TriageStatus.closed
    run, result = run_action(
        "reopen-item", {"item_id": ward.fix, "reason": "Broke again", "by": "Sister"}
    )
    assert run.state is not None and run.state.is_completed()
    assert _action(session, result["action_id"]).item_id == ward.fix

    run, result = run_action(
        "decide-change",
        {"item_id": ward.change, "decision": "defer", "owner": "Matron", "note": "Budget",
         "by": "Director", "review": "2026-09-30", "on": "2026-04-01"},
    )  # fmt: skip
    assert run.name == f"defer · {ward.code} item {ward.change}"
    session.expire_all()
    assert session.get_one(TriageItem, ward.change).review_date == date(2026, 9, 30)

    # A refused action fails the run with the reason, and writes nothing.
    before = len(session.exec(select(Action)).all())
    run, result = run_action("close-item", {"item_id": 999, "outcome": "x", "by": "Sam"})
    assert run.state is not None and run.state.is_failed()
    assert "999 does not exist" in str(result)
    assert run.name == "close · ? item 999"
    session.expire_all()
    assert len(session.exec(select(Action)).all()) == before


def test_record_event_held_from_the_prefect_form(
    session: Session, ward: Ward, prefect_harness: None
) -> None:
    event = session.get(EngagementEvent, ward.event_id)
    assert event is not None and event.starts_at is not None
    day = event.starts_at.date().isoformat()
    run, result = run_action(
        "record-event-held",
        {"ward_code": ward.code, "wave": 1, "held_on": day, "attendees": 14,
         "by": "Priya Raman", "on": day},
    )  # fmt: skip
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == f"held · {ward.code} wave 1"
    action = _action(session, result["action_id"])
    assert (action.command, action.source_kind) == ("RecordEventHeld", "prefect")
    session.expire_all()
    held = session.get(EngagementEvent, ward.event_id)
    assert held is not None and held.status is EventStatus.held and held.attendees_count == 14
    with pytest.raises(Exception, match="less than the minimum of 1"):  # refused by the form
        run_action(
            "record-event-held",
            {"ward_code": ward.code, "wave": 1, "held_on": day, "attendees": 0, "by": "Priya"},
        )


def test_merge_and_split_themes_from_the_prefect_form(
    session: Session, ward: Ward, prefect_harness: None
) -> None:
    def theme_of(item_id: int) -> str:
        session.expire_all()
        item = session.get(TriageItem, item_id)
        assert item is not None
        theme = session.get(Theme, item.theme_id)
        assert theme is not None
        return theme.key

    fix, improve = theme_of(ward.fix), theme_of(ward.improve)
    assert fix != improve
    run, result = run_action("merge-themes", {"into": improve, "themes": [fix], "by": "QI lead"})
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == f"merge ['{fix}'] into {improve}"
    assert theme_of(ward.fix) == improve
    run, result = run_action(
        "split-theme", {"theme": improve, "item_ids": [ward.fix], "by": "QI lead"}
    )
    assert run.state is not None and run.state.is_completed(), result
    assert _action(session, result["action_id"]).command == "SplitTheme"
    assert theme_of(ward.fix) == result["details"]["theme"] != improve
    run, result = run_action("merge-themes", {"into": "T999", "themes": [fix], "by": "QI lead"})
    assert run.state is not None and run.state.is_failed() and "no theme" in str(result)


def test_defer_ward_from_the_prefect_form(
    session: Session, ward: Ward, prefect_harness: None
) -> None:
    run, result = run_action(
        "defer-ward", {"ward_code": ward.code, "reason": "Ward closed for refurbishment",
                       "by": "Improvement team", "on": "2026-02-20"},
    )  # fmt: skip
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == f"defer · {ward.code}"
    action = _action(session, result["action_id"])
    assert (action.command, action.source_kind) == ("DeferWard", "prefect")
    session.expire_all()
    event = session.get(EngagementEvent, ward.event_id)
    assert event is not None and event.status is EventStatus.cancelled


def test_link_qsir_project_from_the_prefect_form(
    session: Session, ward: Ward, prefect_harness: None
) -> None:
    nominee = ward.nominees[0]
    run, result = run_action(
        "link-qsir-project", {"staff_number": nominee, "item_id": ward.improve, "by": "QI coach"}
    )
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == f"project · {nominee} item {ward.improve}"
    assert _action(session, result["action_id"]).command == "LinkProject"
    session.expire_all()
    linked = session.exec(
        select(QsirNomination).where(QsirNomination.project_item_id == ward.improve)
    ).one()
    assert linked.id == result["details"]["nomination_id"]


def test_import_owners_from_the_prefect_form(
    session: Session, ward: Ward, tmp_path: Path, prefect_harness: None
) -> None:
    register = tmp_path / "owners.csv"
    register.write_text(
        "level,site_code,specialty,directorate,name,email\n"
        "executive,,,,Jane Corrigan,jane.corrigan@trust.example\n"
    )
    run, result = run_action("import-owners", {"path": str(register), "by": "Improvement team"})
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == f"import owners · {register}"
    action = _action(session, result["action_id"])
    assert (action.command, action.source_kind) == ("ImportOwners", "prefect")
    assert session.exec(select(EscalationOwner)).one().name == "Jane Corrigan"
    register.write_text("level,site_code,specialty,directorate,name,email\nboss,,,,X,x\n")
    run, result = run_action("import-owners", {"path": str(register), "by": "Improvement team"})
    assert run.state is not None and run.state.is_failed()
    assert "row 2, column 'level'" in str(result)


def test_qsir_actions_from_the_prefect_form(
    session: Session, ward: Ward, settings: Settings, tmp_path: Path, prefect_harness: None
) -> None:
    first, second = ward.nominees
    extract = tmp_path / "esr.csv"
    extract.write_text(f"staff_number,name,ward_code\n30000009,New Starter,{ward.code}\n")
    run, result = run_action("import-staff", {"path": str(extract), "by": "Workforce"})
    assert run.state is not None and run.state.is_completed(), result
    assert session.exec(select(StaffMember).where(StaffMember.staff_number == "30000009")).one()

    day = ward.cohort_days[0]
    run, result = run_action(
        "take-qsir-register",
        {"cohort": ward.cohort, "session_date": day.isoformat(), "present": [first],
         "by": "Facilitator"},
    )  # fmt: skip
    assert run.name == f"register · {ward.cohort} {day.isoformat()}"
    session.expire_all()
    assert len(session.exec(select(QsirAttendance)).all()) == 2
    run, _ = run_action(
        "record-qsir-presentation", {"staff_number": first, "on": "2026-05-06", "by": "Jo"}
    )
    assert run.state is not None and run.state.is_completed()
    run, _ = run_action("defer-nominee", {"staff_number": second, "reason": "Sick", "by": "M"})
    run, _ = run_action("requeue-nominee", {"staff_number": second, "by": "M"})
    run, result = run_action(
        "withdraw-nominee", {"staff_number": first, "reason": "Left", "by": "M"}
    )
    assert run.state is not None and run.state.is_completed(), result
    session.expire_all()
    statuses = sorted(n.status for n in session.exec(select(QsirNomination)).all())
    assert statuses == sorted([NominationStatus.nominated, NominationStatus.withdrawn])
    commands = [a.command for a in session.exec(select(Action).order_by(col(Action.id))).all()]
    assert commands == ["ImportStaff", "TakeRegister", "RecordPresentation", "DeferNominee",
                        "RequeueNominee", "WithdrawNominee"]  # fmt: skip


def test_engagement_actions_from_the_prefect_form(
    session: Session, ward: Ward, prefect_harness: None
) -> None:
    run, result = run_action(
        "set-engagement-preferences",
        {"ward_code": ward.code, "by": "Manager", "starts": ["10:00"], "avoid": ["fri"]},
    )
    assert run.state is not None and run.state.is_completed(), result
    session.expire_all()
    pref = session.exec(select(WardEngagementPreference)).one()
    assert pref.preferred_starts == ["10:00"] and pref.avoid_weekdays == [4]

    event = session.get(EngagementEvent, ward.event_id)
    assert event is not None and event.starts_at is not None
    day = event.starts_at.date() + timedelta(days=7)
    while day.weekday() >= 4:  # the ward now avoids Fridays
        day += timedelta(days=1)
    run, result = run_action(
        "reschedule-event",
        {"ward_code": ward.code, "wave": 1, "to": f"{day.isoformat()}T10:00:00",
         "reason": "Outbreak", "by": "Coordinator", "on": "2026-02-16"},
    )  # fmt: skip
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == f"reschedule · {ward.code} wave 1"
    run, result = run_action(
        "cancel-event", {"ward_code": ward.code, "wave": 1, "reason": "Closed", "by": "Coord"}
    )
    session.expire_all()
    assert session.get_one(EngagementEvent, ward.event_id).status is EventStatus.cancelled
    assert _action(session, result["action_id"]).command == "CancelEvent"


def test_project_actions_from_the_prefect_form(
    session: Session, ward: Ward, prefect_harness: None
) -> None:
    run, result = run_action(
        "start-project",
        {"title": "Noon discharges", "by": "QI lead", "ward_code": ward.code,
         "record": {"metrics": ["complaints"], "ppi_level": "consulted", "co2e_kg": 12.5},
         "on": "2026-03-01"},
    )  # fmt: skip
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == "start project · Noon discharges"
    pid = result["details"]["project_id"]
    run, result = run_action(
        "update-project",
        {"project_id": pid, "status": "stopped", "stop_reason": "Ward merged", "by": "QI lead"},
    )
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == f"update project {pid}", result
    run, result = run_action(
        "add-pdsa", {"project_id": pid, "plan": "Board round at 9", "decision": "adopt",
                     "by": "Sister", "on": "2026-03-10"},
    )  # fmt: skip
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == f"PDSA · project {pid}", result
    run, result = run_action(
        "log-coaching",
        {"project_id": pid, "adviser": "Priya", "minutes": 30, "by": "Priya", "on": "2026-03-11"},
    )
    assert run.state is not None and run.state.is_completed(), result
    staff = session.exec(select(StaffMember)).first()
    assert staff is not None
    run, result = run_action(
        "record-qi-event",
        {"event_kind": "qi_cafe", "topic": "Run charts", "attendees": [staff.staff_number],
         "by": "QI team", "on": "2026-03-12"},
    )  # fmt: skip
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == "qi_cafe · Run charts", result
    session.expire_all()
    project = session.get(ImprovementProject, pid)
    assert project is not None and project.status is ProjectStatus.stopped
    assert project.metrics == ["complaints"] and project.qi_coach == "Priya"
    assert len(session.exec(select(PdsaCycle)).all()) == 1
    assert len(session.exec(select(QiEventAttendance)).all()) == 1
    commands = [a.command for a in session.exec(select(Action).order_by(col(Action.id))).all()]
    assert commands == ["StartProject", "UpdateProject", "AddPdsa", "LogCoaching",
                        "RecordQiEvent"]  # fmt: skip

    # A standalone project with a numeric aim on its own measure: a measurement 25% of the way
    # is the evidence for a 3.0, scored by the project's id.
    run, result = run_action(
        "start-project",
        {"title": "Green theatre", "by": "QI lead",
         "record": {"aim_measure": "kg waste per list", "aim_baseline": 40.0, "aim_target": 20.0,
                    "aim_direction": "decrease", "aim_by": "2026-12-31"},
         "on": "2026-03-01"},
    )  # fmt: skip
    assert run.state is not None and run.state.is_completed(), result
    green = result["details"]["project_id"]
    run, result = run_action(
        "record-measurement", {"project_id": green, "value": 35.0, "by": "Theatre lead",
                               "on": "2026-04-01"},
    )  # fmt: skip
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == f"measure · project {green}"
    run, result = run_action(
        "score-project", {"project_id": green, "score": 3.0, "why": "Waste down a quarter",
                          "by": "QI coach", "on": "2026-04-02"},
    )  # fmt: skip
    assert run.state is not None and run.state.is_completed(), result
    assert run.name == f"score 3.0 · project {green}"
    session.expire_all()
    row = session.exec(select(ImprovementScore).where(ImprovementScore.project_id == green)).one()
    assert (row.triage_item_id, row.evidence_value, row.evidence_note) == (None, 35.0, "")

    # The form refuses a metric the diagnostics do not have; nothing is written.
    run, result = run_action(
        "start-project", {"title": "X", "by": "Q", "record": {"metrics": ["beds"]}}
    )
    assert (
        run.state is not None and run.state.is_failed() and "not a diagnostic metric" in str(result)
    )
