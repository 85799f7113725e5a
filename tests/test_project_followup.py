"""The monthly IHI scoring prompt and stale-project flags, on both databases: who is asked,
who is flagged, and each message once however often the daily run goes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from tests.utils.programme import Ward, ward_in_programme
from wardprog import commands as c
from wardprog.config import Settings
from wardprog.models import ImprovementProject, Notification
from wardprog.services.handlers import handle
from wardprog.services.projects.followup import (
    send_scoring_prompts,
    send_stale_flags,
    stale_projects,
)

QI = {"name": "QI team"}


@pytest.fixture
def ward(session: Session, settings: Settings, tmp_path: Path) -> Ward:
    return ward_in_programme(session, settings, tmp_path)


def notes(session: Session, kind: str) -> list[Notification]:
    session.expire_all()
    return list(session.exec(select(Notification).where(Notification.kind == kind)).all())


def test_monthly_prompt_once_a_month_to_each_active_lead(
    session: Session, ward: Ward, engine: Engine
) -> None:
    (item_project,) = session.exec(select(ImprovementProject)).all()
    handle(engine, c.build(c.UpdateProject, actor=QI, on=date(2026, 2, 17),
                           project_id=item_project.id, lead="Sister Ali",
                           lead_email="ali@trust.test"))  # fmt: skip
    other = handle(engine, c.build(c.StartProject, actor=QI, on=date(2026, 2, 20),
                                   title="Trust-wide handover"))  # fmt: skip
    stopped = handle(engine, c.build(c.StartProject, actor=QI, on=date(2026, 2, 20),
                                     title="Stopped one"))  # fmt: skip
    handle(engine, c.build(c.UpdateProject, actor=QI, on=date(2026, 2, 21),
                           project_id=stopped.details["project_id"], status="stopped",
                           stop_reason="Merged"))  # fmt: skip

    session.expire_all()
    sent = send_scoring_prompts(session, date(2026, 3, 2))
    session.commit()
    assert len(sent) == 2  # the stopped project is not asked
    again = send_scoring_prompts(session, date(2026, 3, 20))
    session.commit()
    assert again == []
    prompts = notes(session, "project_score_prompt")
    mine = next(n for n in prompts if n.ward_code == ward.code)
    assert mine.recipients == ["ali@trust.test"]
    assert mine.subject == "IHI score for March 2026: Falls at night in side rooms"
    assert f"wardprog items score {ward.improve} SCORE" in mine.body_text
    assert "3.0" in mine.body_text and "20% of the way" in mine.body_text
    standalone = next(n for n in prompts if n.ward_code is None)
    assert "improvement-team" in standalone.tags and other.details["project_id"]
    assert len(send_scoring_prompts(session, date(2026, 4, 1))) == 2  # a new month


def test_stale_projects_flagged_once_to_team_and_coach(
    session: Session, ward: Ward, engine: Engine
) -> None:
    (p,) = session.exec(select(ImprovementProject)).all()
    handle(engine, c.build(c.UpdateProject, actor=QI, on=date(2026, 2, 17),
                           project_id=p.id, qi_coach="Priya",
                           qi_coach_email="priya@trust.test"))  # fmt: skip
    session.expire_all()
    # Started 16 Feb; the 0.5 at triage is not activity. Quiet for 89 days: not stale.
    assert stale_projects(session, date(2026, 5, 16)) == []
    (found,) = stale_projects(session, date(2026, 5, 17))
    assert found.last_activity == date(2026, 2, 16)
    sent = send_stale_flags(session, date(2026, 5, 17))
    session.commit()
    assert len(sent) == 1 and send_stale_flags(session, date(2026, 5, 30)) == []
    (flag,) = notes(session, "project_stale")
    assert flag.recipients == ["priya@trust.test"] and flag.tags == ["improvement-team"]
    assert "no IHI score and no PDSA cycle for 90 days" in flag.body_text

    # A PDSA cycle ends the quiet spell; 90 quiet days after it, a new flag (once).
    handle(engine, c.build(c.AddPdsa, actor=QI, on=date(2026, 6, 1), project_id=p.id,
                           plan="Night rounding"))  # fmt: skip
    session.expire_all()
    assert stale_projects(session, date(2026, 8, 1)) == []
    session.commit()
    assert len(send_stale_flags(session, date(2026, 8, 29))) == 0  # 89 quiet days
    assert len(send_stale_flags(session, date(2026, 8, 30))) == 1
    session.commit()
    assert len(send_stale_flags(session, date(2026, 9, 10))) == 0
    # A score counts as activity too.
    handle(engine, c.build(c.ScoreProject, actor=QI, on=date(2026, 9, 11),
                           item_id=ward.improve, score=2.0, why="Run chart"))  # fmt: skip
    session.expire_all()
    assert stale_projects(session, date(2026, 12, 9)) == []


def test_follow_up_flow_sends_each_message_once(
    session: Session, ward: Ward, prefect_harness: None
) -> None:
    from flows.projects import project_follow_up

    first = project_follow_up(as_of=date(2026, 5, 20))
    assert first == {"prompts": 1, "stale": 1, "packs": 0}  # no measured project with a pack
    assert project_follow_up(as_of=date(2026, 5, 21)) == {"prompts": 0, "stale": 0, "packs": 0}
    assert len(notes(session, "project_score_prompt")) == 1
    assert len(notes(session, "project_stale")) == 1


def test_a_standalone_projects_own_scores_keep_it_alive(
    session: Session, ward: Ward, engine: Engine
) -> None:
    """A project outside the programme has its own score history: its score is activity for
    the stale check, and its monthly prompt shows it; each message still goes once."""
    out = handle(engine, c.build(c.StartProject, actor=QI, on=date(2026, 3, 2),
                                 title="Theatre waste", lead_email="lead@trust.test"))  # fmt: skip
    pid = out.details["project_id"]
    handle(engine, c.build(c.ScoreProject, actor=QI, on=date(2026, 5, 20),
                           project_id=pid, score=2.0, why="Changes tested"))  # fmt: skip
    session.expire_all()
    assert pid not in {a.project.id for a in stale_projects(session, date(2026, 6, 1))}
    (prompt,) = [n for n in send_scoring_prompts(session, date(2026, 6, 1))
                 if n.recipients == ["lead@trust.test"]]  # fmt: skip
    session.commit()
    assert "2.0" in prompt.body_text
    assert [n for n in send_scoring_prompts(session, date(2026, 6, 20))] == []
    # 90 days after its score, it is stale (once).
    assert pid not in {a.project.id for a in stale_projects(session, date(2026, 8, 17))}
    (found,) = [a for a in stale_projects(session, date(2026, 8, 18)) if a.project.id == pid]
    assert found.last_activity == date(2026, 5, 20)
    flags = [n for n in send_stale_flags(session, date(2026, 8, 18)) if f"project-{pid}:" in
             (n.idempotency_key or "")]  # fmt: skip
    session.commit()
    assert len(flags) == 1
    assert [n for n in send_stale_flags(session, date(2026, 8, 25))
            if f"project-{pid}:" in (n.idempotency_key or "")] == []  # fmt: skip
