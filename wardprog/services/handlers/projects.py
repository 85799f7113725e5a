"""Handlers for improvement projects: the record, measurements, PDSA cycles, coaching, QI Café and
training.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from wardprog import commands as c
from wardprog.config import Settings
from wardprog.models import (
    ImprovementProject,
    QiEventKind,
)
from wardprog.services import projects
from wardprog.services.handlers.bus import Outcome, handler
from wardprog.services.handlers.shared import project_outcome
from wardprog.services.projects import scores as project_scores

# --- improvement projects ----------------------------------------------------------------------


def _check_project(settings: Settings, changes: dict[str, Any]) -> dict[str, Any]:
    if "strategic_aim" in changes:
        projects.check_strategic_aim(settings, changes["strategic_aim"])
    return changes


@handler(c.StartProject)
def start_project(session: Session, settings: Settings, cmd: c.StartProject) -> Outcome:
    changes = _check_project(settings, cmd.changes())
    project = ImprovementProject(
        title=cmd.title,
        ward_id=projects.ward_id_for(session, cmd.ward_code),
        started_on=cmd.on,
        lead=cmd.actor.name,
    )
    projects.apply_changes(project, changes, cmd.on)
    session.add(project)
    session.flush()
    project_scores.check_aim(project)
    return project_outcome(session, project, f"project {project.id} started: {project.title}")


@handler(c.UpdateProject)
def update_project(session: Session, settings: Settings, cmd: c.UpdateProject) -> Outcome:
    project = projects.get_project(session, cmd.project_id)
    # Only what differs from the record is a change (the ward page's form sends it all back).
    changes = {
        k: v for k, v in _check_project(settings, cmd.changes()).items() if getattr(project, k) != v
    }
    if not changes:
        raise projects.ProjectError(f"project {project.id}: nothing to change")
    projects.apply_changes(project, dict(changes), cmd.on)  # it pops status and reason
    project_scores.check_aim(project)
    session.add(project)
    session.flush()
    return project_outcome(
        session, project, f"project {project.id} updated: {', '.join(sorted(changes))}"
    )


@handler(c.RecordMeasurement)
def record_measurement(session: Session, _settings: Settings, cmd: c.RecordMeasurement) -> Outcome:
    project = projects.get_project(session, cmd.project_id)
    row, created = project_scores.add_measurement(
        session, project, cmd.on, cmd.value, cmd.note, cmd.actor.name
    )
    measure = project.aim_measure or "its measure"
    verb = "measured" if created else "corrected"
    return project_outcome(
        session,
        project,
        f"project {project.id}: {measure} {verb} {row.value:g} on {row.measured_on.isoformat()}",
    )


@handler(c.AddPdsa)
def add_pdsa(session: Session, _settings: Settings, cmd: c.AddPdsa) -> Outcome:
    project = projects.get_project(session, cmd.project_id)
    cycle = projects.add_pdsa(
        session,
        project,
        started_on=cmd.started_on or cmd.on,
        plan=cmd.plan,
        prediction=cmd.prediction,
        happened=cmd.happened,
        learned=cmd.learned,
        decision=cmd.decision,
        decided_on=cmd.on,
        recorded_by=cmd.actor.name,
    )
    verdict = f" ({cycle.decision.value})" if cycle.decision else ""
    return project_outcome(
        session, project, f"project {project.id}: PDSA cycle {cycle.number}{verdict}"
    )


@handler(c.LogCoaching)
def log_coaching(session: Session, _settings: Settings, cmd: c.LogCoaching) -> Outcome:
    project = projects.get_project(session, cmd.project_id)
    projects.log_coaching(session, project, cmd.adviser, cmd.on, cmd.minutes, cmd.note)
    return project_outcome(
        session,
        project,
        f"project {project.id}: {cmd.minutes} min coaching with {cmd.adviser} "
        f"on {cmd.on.isoformat()}",
    )


@handler(c.RecordQiEvent)
def record_qi_event(session: Session, _settings: Settings, cmd: c.RecordQiEvent) -> Outcome:
    event, added = projects.record_event(session, cmd.event_kind, cmd.on, cmd.topic, cmd.attendees)
    label = "QI Café" if cmd.event_kind is QiEventKind.qi_cafe else "training"
    return Outcome(
        f"{label} {event.held_on.isoformat()} {event.topic!r}: {added} attendee(s) recorded",
        subject=f"event {event.id}",
        details={"event_id": event.id, "kind": event.kind.value, "added": added},
    )
