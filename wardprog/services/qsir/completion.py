"""QSIR attendance registers, project presentations and the completion rule applied to them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlmodel import Session, col, select

from wardprog.errors import WardprogError
from wardprog.models import (
    Course,
    NominationStatus,
    QsirAttendance,
    QsirCohort,
    QsirNomination,
)
from wardprog.rules import cohorts as rules
from wardprog.services.qsir.cohorts import cohort_dates
from wardprog.services.qsir.lifecycle import ACTIVE, _transition, get_nomination


class AttendanceError(WardprogError):
    """An attendance or project record does not fit the nomination's cohort."""


def record_attendance(
    session: Session, nomination_id: int, session_date: date, attended: bool
) -> QsirAttendance:
    """Record (or correct) the register for one teaching day.

    The first register entry moves a booked nominee to attending.
    """
    nomination = get_nomination(session, nomination_id)
    cohort = session.get(QsirCohort, nomination.cohort_id) if nomination.cohort_id else None
    if cohort is None or nomination.status not in (*ACTIVE, NominationStatus.completed):
        raise AttendanceError(
            f"nomination {nomination_id} is {nomination.status.value}; attendance can only be "
            "recorded for nominees booked on a cohort"
        )
    if session_date not in cohort_dates(cohort):
        raise AttendanceError(
            f"{session_date.isoformat()} is not a teaching day of {cohort.code} "
            f"({', '.join(cohort.session_dates)})"
        )
    row = session.exec(
        select(QsirAttendance).where(
            QsirAttendance.nomination_id == nomination_id,
            QsirAttendance.session_date == session_date,
        )
    ).first()
    if row is None:
        row = QsirAttendance(
            nomination_id=nomination_id, session_date=session_date, attended=attended
        )
    row.attended = attended
    session.add(row)
    if nomination.status == NominationStatus.booked:
        _transition(nomination, NominationStatus.attending)
        session.add(nomination)
    session.flush()
    return row


def mark_project_presented(
    session: Session, nomination_id: int, presented_on: date, presented: bool = True
) -> QsirNomination:
    """Record that the nominee presented their improvement project (the QSIR assessment)."""
    nomination = get_nomination(session, nomination_id)
    if nomination.status not in (*ACTIVE, NominationStatus.completed):
        raise AttendanceError(
            f"nomination {nomination_id} is {nomination.status.value}; only booked or attending "
            "nominees present projects"
        )
    nomination.project_presented = presented
    nomination.project_presented_on = presented_on if presented else None
    session.add(nomination)
    session.flush()
    return nomination


FUNDAMENTALS_RULE = rules.CompletionRule(min_sessions_attended=1, require_project=False)


@dataclass
class CompletionReport:
    completed: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    awaiting_project: list[int] = field(default_factory=list)
    awaiting_register: list[int] = field(default_factory=list)


def evaluate_completion(
    session: Session,
    as_of: date,
    rule: rules.CompletionRule | None = None,
    fundamentals_rule: rules.CompletionRule = FUNDAMENTALS_RULE,
) -> CompletionReport:
    """Apply the completion rule to everyone booked or attending, as of ``as_of``.

    Completed nominees count as trained from the later of their cohort's last day and their
    project presentation. Nominees who can no longer meet the attendance rule are deferred with
    the reason, so they can be requeued for a later cohort. Nobody is judged on a teaching day
    whose register has not been entered yet.
    """
    rule = rule or rules.CompletionRule()
    report = CompletionReport()
    nominations = session.exec(
        select(QsirNomination)
        .where(col(QsirNomination.status).in_(ACTIVE), col(QsirNomination.cohort_id).is_not(None))
        .order_by(col(QsirNomination.id))
    ).all()
    cohorts = {c.id: c for c in session.exec(select(QsirCohort)).all()}
    registers: dict[int, dict[date, bool]] = defaultdict(dict)
    ids = [n.id for n in nominations]
    for a in session.exec(
        select(QsirAttendance).where(col(QsirAttendance.nomination_id).in_(ids))
    ).all():
        registers[a.nomination_id][a.session_date] = a.attended
    for n in nominations:
        assert n.id is not None
        cohort = cohorts[n.cohort_id]
        dates = cohort_dates(cohort)
        past = [d for d in dates if d <= as_of]
        register = registers[n.id]
        if any(d not in register for d in past):
            report.awaiting_register.append(n.id)
            continue
        attended = sum(1 for d in past if register[d])
        applied = rule if n.course == Course.practitioner else fundamentals_rule
        verdict = rules.completion_verdict(
            applied,
            sessions_total=len(dates),
            sessions_past=len(past),
            attended=attended,
            project_presented=n.project_presented,
        )
        if verdict == rules.Verdict.completed:
            if n.status == NominationStatus.booked:
                _transition(n, NominationStatus.attending)
            _transition(n, NominationStatus.completed)
            n.completed_on = max(dates[-1], n.project_presented_on or dates[-1])
            report.completed.append(n.id)
        elif verdict == rules.Verdict.not_met:
            _transition(n, NominationStatus.deferred)
            n.reason = (
                f"attended {attended} of {len(past)} days held so far of {cohort.code} "
                f"({len(dates)} in all); completion needs "
                f"{applied.describe()} - requeue for a later cohort"
            )
            report.deferred.append(n.id)
        elif verdict == rules.Verdict.awaiting_project:
            report.awaiting_project.append(n.id)
        session.add(n)
    session.flush()
    return report
