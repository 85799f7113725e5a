"""The demo's simulated teams fill in their project records, are coached, run PDSA cycles and
hold a monthly QI Café through the commands; some projects go quiet and show as stale."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, func, select

from tests.utils.programme import ward_in_programme
from wardprog.config import Settings
from wardprog.demo.follow_up import simulate_follow_up
from wardprog.models import Action, ImprovementProject, PdsaCycle, QiEvent, QiEventKind
from wardprog.services.scorecard import scorecard

LATE = date(2026, 12, 31)


def test_demo_fills_projects_and_qi_events(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    ward = ward_in_programme(session, settings, tmp_path)
    ward.ctx.enrolment.triage_at = datetime(2026, 2, 16, 12)
    session.add(ward.ctx.enrolment)
    session.commit()

    assert simulate_follow_up(session, LATE) > 0
    session.commit()
    session.expire_all()
    (project,) = session.exec(select(ImprovementProject)).all()
    assert project.metrics and project.strategic_aim in settings.strategic_aims
    cafes = session.exec(select(QiEvent).where(QiEvent.kind == QiEventKind.qi_cafe)).all()
    assert 8 <= len(cafes) <= 11  # February to December, the odd month missed
    assert {e.held_on.weekday() for e in cafes} == {2}
    assert session.exec(select(QiEvent).where(QiEvent.kind == QiEventKind.training)).all()
    commands = {a.command: a.source_kind for a in session.exec(select(Action)).all()}
    assert commands["UpdateProject"] == "demo" and commands["RecordQiEvent"] == "demo"
    pdsa = session.exec(select(func.count()).select_from(PdsaCycle)).one()
    assert pdsa in (0, 3)  # a quiet project runs none
    kpis = {k.kpi: k for k in scorecard(session, settings, LATE)}
    assert kpis["staff_trained"].numerator > 0 and kpis["qi_cafe_months_held"].numerator >= 8

    before = session.exec(select(func.count()).select_from(Action)).one()
    assert simulate_follow_up(session, LATE) == 0  # replaying the same date changes nothing
    session.commit()
    assert session.exec(select(func.count()).select_from(Action)).one() == before
