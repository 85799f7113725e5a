"""Handlers for triage follow-up: close, reopen, score an item's project, decide a change."""

from __future__ import annotations

from sqlmodel import Session

from wardprog import commands as c
from wardprog.config import Settings
from wardprog.models import (
    TriageItem,
    TriageStatus,
)
from wardprog.services import projects, triage
from wardprog.services.handlers.bus import Outcome, handler
from wardprog.services.handlers.shared import project_outcome, ward_code_of
from wardprog.services.projects import scores as project_scores

IHI = triage.IHI_SCORES


# --- triage follow-up --------------------------------------------------------------------------


def _item_outcome(session: Session, item: TriageItem, summary: str) -> Outcome:
    return Outcome(
        summary,
        ward_code=ward_code_of(session, item.ward_id),
        item_id=item.id,
        subject=f"item {item.id}",
        details={"status": item.status.value, "category": item.category.value},
    )


@handler(c.CloseItem)
def close_item(session: Session, _settings: Settings, cmd: c.CloseItem) -> Outcome:
    before = session.get(TriageItem, cmd.item_id)
    was_closed = before is not None and before.status is TriageStatus.closed
    item = triage.close_item(session, cmd.item_id, cmd.outcome, cmd.actor.name, cmd.on)
    projects.item_closed(session, item, cmd.on)
    if was_closed:
        return _item_outcome(session, item, f"item {item.id} was already closed; unchanged")
    return _item_outcome(session, item, f"closed item {item.id}: {item.outcome}")


@handler(c.ReopenItem)
def reopen_item(session: Session, _settings: Settings, cmd: c.ReopenItem) -> Outcome:
    item = triage.reopen_item(session, cmd.item_id, cmd.reason, cmd.actor.name)
    projects.item_reopened(session, item)
    return _item_outcome(session, item, f"reopened item {item.id}: {cmd.reason}")


@handler(c.ScoreProject)
def score_project(session: Session, settings: Settings, cmd: c.ScoreProject) -> Outcome:
    if cmd.item_id is not None:
        project = project_scores.project_of_item(session, cmd.item_id, cmd.on)
    else:
        assert cmd.project_id is not None
        project = projects.get_project(session, cmd.project_id)
    row = project_scores.record_score(
        session, settings, project, cmd.score, cmd.actor.name, cmd.on, cmd.why, cmd.evidence_note
    )
    label = f"{row.score:.1f} ({IHI[row.score].lower()})"
    if row.evidence_value is not None:
        label += f", evidence {project.aim_measure} = {row.evidence_value:g}"
    elif row.evidence_note:
        label += ", on an evidence note"
    if project.triage_item_id is not None:
        item = session.get(TriageItem, project.triage_item_id)
        assert item is not None
        return _item_outcome(session, item, f"item {item.id} scored {label}")
    return project_outcome(session, project, f"project {project.id} scored {label}")


@handler(c.DecideChange)
def decide_change(session: Session, _settings: Settings, cmd: c.DecideChange) -> Outcome:
    item = triage.decide_change(
        session,
        cmd.item_id,
        cmd.decision,
        cmd.owner,
        cmd.note,
        cmd.actor.name,
        cmd.on,
        cmd.review,
    )
    verb = {"approve": "approved", "decline": "declined", "defer": "deferred"}[cmd.decision]
    review = f", review {item.review_date.isoformat()}" if item.review_date else ""
    return _item_outcome(session, item, f"change {item.id} {verb}; owner {item.owner}{review}")
