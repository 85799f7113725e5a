"""Improvement projects: the record for every `improve` item (and for projects started outside
the ward programme), its PDSA cycles and coaching sessions, and QI Café / training events.

Functions here take a Session and only flush: the handler that calls them owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlmodel import Session, col, func, select

from wardprog.config import Settings
from wardprog.errors import NotFoundError, WardprogError
from wardprog.models import (
    CoachingSession,
    ImprovementProject,
    ImprovementScore,
    PdsaCycle,
    PdsaDecision,
    ProjectStatus,
    QiEvent,
    QiEventAttendance,
    QiEventKind,
    StaffMember,
    TriageCategory,
    TriageItem,
    Ward,
)
from wardprog.models.base import require_id
from wardprog.services.context import ward_by_code


class ProjectError(WardprogError):
    """A project change that does not make sense (stopping without a reason, an unknown aim)."""


def project_for_item(session: Session, item: TriageItem) -> ImprovementProject | None:
    return session.exec(
        select(ImprovementProject).where(ImprovementProject.triage_item_id == item.id)
    ).first()


def score_given_already(
    session: Session, scored_on: date, scored_by: str, score: float, *, of: Any
) -> ImprovementScore | None:
    """The same score by the same person on the same day, if recorded (a retry, not a new one).

    ``of`` says whose history: ``ImprovementScore.project_id == ...`` or ``triage_item_id``.
    """
    return session.exec(
        select(ImprovementScore).where(
            of,
            ImprovementScore.scored_on == scored_on,
            ImprovementScore.scored_by == scored_by.strip(),
            ImprovementScore.score == score,
        )
    ).first()


def _new_project(item: TriageItem, on: date) -> ImprovementProject:
    assert item.category is TriageCategory.improve
    return ImprovementProject(
        triage_item_id=require_id(item),
        ward_id=item.ward_id,
        title=item.issue[:200],
        lead=item.owner,
        started_on=on,
    )


def ensure_project_for_item(session: Session, item: TriageItem, on: date) -> ImprovementProject:
    """The project record of an `improve` item, created the first time it is seen."""
    project = project_for_item(session, item)
    if project is None:
        project = _new_project(item, on)
        session.add(project)
        session.flush()
    return project


def projects_for_new_items(
    session: Session, items: Sequence[TriageItem], on: date
) -> list[ImprovementProject]:
    """The project records of `improve` items created in this transaction, in their order.

    Items just inserted cannot have a project yet, so there is nothing to look up: one batched
    INSERT for a returned file's projects instead of a read and an insert per item.
    """
    projects = [_new_project(item, on) for item in items]
    session.add_all(projects)
    session.flush()
    return projects


def item_closed(session: Session, item: TriageItem, on: date) -> None:
    """Closing an `improve` item completes its project; reopening makes it active again."""
    if item.category is not TriageCategory.improve:
        return
    project = ensure_project_for_item(session, item, on)
    if project.status is ProjectStatus.active:
        project.status, project.completed_on = ProjectStatus.completed, on
        session.add(project)


def item_reopened(session: Session, item: TriageItem) -> None:
    if item.category is not TriageCategory.improve:
        return
    project = project_for_item(session, item)
    if project is not None and project.status is ProjectStatus.completed:
        project.status, project.completed_on = ProjectStatus.active, None
        session.add(project)


def get_project(session: Session, project_id: int) -> ImprovementProject:
    project = session.get(ImprovementProject, project_id)
    if project is None:
        raise NotFoundError(f"project {project_id} does not exist; see `wardprog projects`")
    return project


def project_ward(session: Session, project: ImprovementProject) -> Ward | None:
    """The project's ward, or None for a project recorded without one (its ward is optional)."""
    return session.get(Ward, project.ward_id) if project.ward_id else None


def check_strategic_aim(settings: Settings, aim: str) -> str:
    if aim and aim not in settings.strategic_aims:
        raise ProjectError(
            f"strategic aim {aim!r} is not one of the trust's: "
            + "; ".join(settings.strategic_aims)
            + " (WARDPROG_STRATEGIC_AIMS)"
        )
    return aim


def ward_id_for(session: Session, ward_code: str | None) -> int | None:
    if not ward_code:
        return None
    return ward_by_code(session, ward_code).id


def apply_changes(
    project: ImprovementProject, changes: dict[str, Any], on: date
) -> ImprovementProject:
    """Set the given fields; a status change records its date (and needs a reason to stop)."""
    status = changes.pop("status", None)
    reason = changes.pop("stop_reason", None)
    for name, value in changes.items():
        setattr(project, name, value)
    if status is not None and status is not project.status:
        if status is ProjectStatus.stopped and not (reason or project.stop_reason):
            raise ProjectError(f"project {project.id}: give a reason to stop it (--reason)")
        project.status = status
        project.completed_on = on if status is not ProjectStatus.active else None
    if reason is not None:
        project.stop_reason = reason
    return project


def add_pdsa(
    session: Session,
    project: ImprovementProject,
    *,
    started_on: date,
    plan: str,
    prediction: str,
    happened: str,
    learned: str,
    decision: PdsaDecision | None,
    decided_on: date | None,
    recorded_by: str,
) -> PdsaCycle:
    latest = session.exec(
        select(func.max(PdsaCycle.number)).where(PdsaCycle.project_id == project.id)
    ).one()
    cycle = PdsaCycle(
        project_id=require_id(project),
        number=(latest or 0) + 1,
        started_on=started_on,
        plan=plan,
        prediction=prediction,
        happened=happened,
        learned=learned,
        decision=decision,
        decided_on=decided_on if decision is not None else None,
        recorded_by=recorded_by,
    )
    session.add(cycle)
    session.flush()
    return cycle


def pdsa_cycles(session: Session, project_id: int) -> list[PdsaCycle]:
    return list(
        session.exec(
            select(PdsaCycle)
            .where(PdsaCycle.project_id == project_id)
            .order_by(col(PdsaCycle.number))
        ).all()
    )


def log_coaching(
    session: Session,
    project: ImprovementProject,
    adviser: str,
    held_on: date,
    minutes: int,
    note: str,
) -> CoachingSession:
    row = CoachingSession(
        project_id=require_id(project),
        adviser=adviser,
        held_on=held_on,
        minutes=minutes,
        note=note,
    )
    session.add(row)
    if not project.qi_coach:
        project.qi_coach = adviser
        session.add(project)
    session.flush()
    return row


def record_event(
    session: Session, kind: QiEventKind, held_on: date, topic: str, attendees: Sequence[str]
) -> tuple[QiEvent, int]:
    """The event (found again by kind, date and topic) and its attendees from the staff register.

    Returns the event and how many attendees were new; every unknown staff number is named.
    """
    numbers = sorted(set(attendees))
    staff = {
        s.staff_number: s
        for s in session.exec(
            select(StaffMember).where(col(StaffMember.staff_number).in_(numbers))
        ).all()
    }
    unknown = [n for n in numbers if n not in staff]
    if unknown:
        raise NotFoundError(
            f"not in the staff register: {', '.join(unknown)} (import the ESR extract first)"
        )
    event = session.exec(
        select(QiEvent).where(
            QiEvent.kind == kind, QiEvent.held_on == held_on, QiEvent.topic == topic
        )
    ).first()
    if event is None:
        event = QiEvent(kind=kind, held_on=held_on, topic=topic)
        session.add(event)
        session.flush()
    present = set(
        session.exec(
            select(QiEventAttendance.staff_id).where(QiEventAttendance.event_id == event.id)
        ).all()
    )
    added = 0
    for number in numbers:
        member = staff[number]
        if member.id not in present:
            session.add(QiEventAttendance(event_id=require_id(event), staff_id=require_id(member)))
            added += 1
    session.flush()
    return event, added


def project_rows(session: Session, status: ProjectStatus | None = None) -> list[dict[str, Any]]:
    """Every project for `wardprog projects`: its ward, people, PPI, sustainability, logs."""
    query = select(ImprovementProject).order_by(col(ImprovementProject.id))
    if status is not None:
        query = query.where(ImprovementProject.status == status)
    projects = session.exec(query).all()
    from wardprog.services.projects.scores import latest_project_scores

    wards = {w.id: w.code for w in session.exec(select(Ward)).all()}
    scores = latest_project_scores(session)
    pdsas = dict(
        session.exec(
            select(PdsaCycle.project_id, func.count()).group_by(col(PdsaCycle.project_id))
        ).all()
    )
    coaching = dict(
        session.exec(
            select(CoachingSession.project_id, func.count()).group_by(
                col(CoachingSession.project_id)
            )
        ).all()
    )
    return [
        {
            "id": p.id,
            "item_id": p.triage_item_id,
            "ward_code": wards.get(p.ward_id) if p.ward_id else None,
            "title": p.title,
            "aim": p.aim,
            "aim_measure": p.aim_measure,
            "aim_baseline": p.aim_baseline,
            "aim_target": p.aim_target,
            "aim_direction": p.aim_direction,
            "aim_by": p.aim_by,
            "ihi_score": scores[p.id].score if p.id in scores else None,
            "metrics": ",".join(p.metrics),
            "lead": p.lead,
            "qi_coach": p.qi_coach,
            "sponsor": p.sponsor,
            "strategic_aim": p.strategic_aim,
            "ppi_level": p.ppi_level.value,
            "co2e_kg": p.co2e_kg,
            "status": p.status.value,
            "started_on": p.started_on,
            "completed_on": p.completed_on,
            "pdsa_cycles": pdsas.get(p.id or 0, 0),
            "coaching_sessions": coaching.get(p.id or 0, 0),
        }
        for p in projects
    ]
