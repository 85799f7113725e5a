"""Keeping projects alive: the monthly IHI scoring prompt to every active project's lead, and
stale projects (no score and no PDSA cycle for 90 days) flagged to the improvement team and the
project's QI coach. Each message goes once: the outbox key names the project and the month
(prompt) or the last activity it is about (stale), so a daily run adds nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from wardprog.models import (
    ImprovementProject,
    ImprovementScore,
    Notification,
    PdsaCycle,
    ProjectStatus,
)
from wardprog.notify.outbox import enqueue, enqueued
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG
from wardprog.services.projects.records import project_ward
from wardprog.services.projects.scores import latest_project_scores
from wardprog.services.triage import TRIAGE_SCORER

PROMPT_KIND = "project_score_prompt"
STALE_KIND = "project_stale"


@dataclass(frozen=True)
class Activity:
    project: ImprovementProject
    last_score: ImprovementScore | None
    last_activity: date


def _activity(session: Session, as_of: date) -> list[Activity]:
    projects = session.exec(
        select(ImprovementProject)
        .where(
            ImprovementProject.status == ProjectStatus.active,
            col(ImprovementProject.started_on) <= as_of,
        )
        .order_by(col(ImprovementProject.id))
    ).all()
    scores = latest_project_scores(session, as_of)
    pdsa: dict[int, date] = {}
    for c in session.exec(select(PdsaCycle).where(col(PdsaCycle.started_on) <= as_of)).all():
        latest = max(d for d in (c.started_on, c.decided_on) if d is not None and d <= as_of)
        pdsa[c.project_id] = max(pdsa.get(c.project_id, latest), latest)
    out = []
    for p in projects:
        score = scores.get(p.id or 0)
        # The 0.5 recorded at triage is the starting point, not the team's activity.
        scored = score.scored_on if score and score.scored_by != TRIAGE_SCORER else None
        dates = [d for d in (p.started_on, scored, pdsa.get(p.id or 0)) if d is not None]
        out.append(Activity(p, score, max(dates)))
    return out


def stale_projects(session: Session, as_of: date, days: int = 90) -> list[Activity]:
    """Active projects with no IHI score and no PDSA cycle in the last ``days`` days."""
    return [a for a in _activity(session, as_of) if (as_of - a.last_activity).days >= days]


def _project_view(project: ImprovementProject) -> dict[str, object]:
    return {"id": project.id, "title": project.title, "lead": project.lead}


def send_scoring_prompts(session: Session, as_of: date) -> list[Notification]:
    """Once a calendar month, each active project's lead is asked for its IHI score."""
    month = as_of.strftime("%Y-%m")
    sent = []
    for a in _activity(session, as_of):
        p = a.project
        key = f"{PROMPT_KIND}:project-{p.id}:{month}"
        if enqueued(session, key):
            continue
        ward = project_ward(session, p)
        recipients = [p.lead_email] if p.lead_email else []
        if not recipients and ward is not None and ward.manager_email:
            recipients = [ward.manager_email]
        sent.append(
            enqueue(
                session,
                key=key,
                kind=PROMPT_KIND,
                tags=[ward.code] if ward else [IMPROVEMENT_TEAM_TAG],
                ward_code=ward.code if ward else None,
                recipients=recipients,
                context={
                    "lead_name": p.lead or (ward.manager_name if ward else "") or "project lead",
                    "project": _project_view(p),
                    "ward_name": ward.name if ward else "",
                    "month_label": as_of.strftime("%B %Y"),
                    "latest_score": a.last_score.score if a.last_score else None,
                    "latest_scored_on": a.last_score.scored_on if a.last_score else None,
                    "item_id": p.triage_item_id,
                },
            )
        )
    return sent


def send_stale_flags(session: Session, as_of: date, days: int = 90) -> list[Notification]:
    """Each stale project flagged once per quiet spell, to the improvement team and its coach."""
    sent = []
    for a in stale_projects(session, as_of, days):
        p = a.project
        key = f"{STALE_KIND}:project-{p.id}:since-{a.last_activity.isoformat()}"
        if enqueued(session, key):
            continue
        ward = project_ward(session, p)
        sent.append(
            enqueue(
                session,
                key=key,
                kind=STALE_KIND,
                # Team-wide, never to the ward tag: it is the team's housekeeping.
                tags=[IMPROVEMENT_TEAM_TAG],
                recipients=[p.qi_coach_email] if p.qi_coach_email else [],
                context={
                    "project": _project_view(p),
                    "ward_name": ward.name if ward else "",
                    "coach_name": p.qi_coach,
                    "days_quiet": (as_of - a.last_activity).days,
                    "last_activity": a.last_activity,
                },
            )
        )
    return sent
