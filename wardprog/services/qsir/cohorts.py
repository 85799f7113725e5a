"""QSIR cohorts: planned a year ahead from the rules, stored once per stable code."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.models import (
    Course,
    QsirCohort,
)
from wardprog.rules import cohorts as rules

# Cohorts are published a year ahead so rosters can release nominees; anyone who does not fit
# in that year's cohorts waits on the waitlist until the next cohort is planned.
COHORT_HORIZON_DAYS = 365


def ensure_cohorts(
    session: Session, settings: Settings, as_of: date, horizon_days: int = COHORT_HORIZON_DAYS
) -> list[QsirCohort]:
    """Create the cohorts starting within ``horizon_days`` after ``as_of`` that do not exist yet.

    Cohort codes are stable, so this is idempotent; a concurrent run that inserted the same
    cohort first is tolerated (savepoint per cohort).
    """
    until = as_of + timedelta(days=horizon_days)
    closed = rules.closed_days(as_of, until)
    plans = rules.plan_practitioner_cohorts(
        as_of, until, settings.qsir_cohort_capacity, closed
    ) + rules.plan_fundamentals_sessions(as_of, until, settings.qsir_cohort_capacity, closed)
    codes = [p.code for p in plans]
    have = {
        c.code
        for c in session.exec(select(QsirCohort).where(col(QsirCohort.code).in_(codes))).all()
    }
    created = []
    for plan in plans:
        if plan.code in have:
            continue
        cohort = QsirCohort(
            code=plan.code,
            course=Course(plan.course),
            start_date=plan.start_date,
            capacity=plan.capacity,
            session_dates=[d.isoformat() for d in plan.session_dates],
        )
        try:
            with session.begin_nested():
                session.add(cohort)
                session.flush()
        except IntegrityError:
            continue
        created.append(cohort)
    return created


def cohort_dates(cohort: QsirCohort) -> list[date]:
    return [date.fromisoformat(d) for d in cohort.session_dates]
