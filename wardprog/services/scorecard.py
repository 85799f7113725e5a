"""The QI strategy's scorecard from the records: gathers the facts as of a date for
:mod:`wardprog.rules.scorecard` (`wardprog kpis`, the dashboard, the improvement-team digest)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.models import (
    CoachingSession,
    ImprovementProject,
    NominationStatus,
    QiEvent,
    QiEventAttendance,
    QiEventKind,
    QsirNomination,
)
from wardprog.rules.scorecard import Kpi, ProjectFacts, Targets
from wardprog.rules.scorecard import scorecard as compute
from wardprog.rules.spc import spc
from wardprog.services.project_scores import latest_project_scores
from wardprog.services.spc_points import chart_icons, chart_point


def targets_from(settings: Settings) -> Targets:
    return Targets(
        modest_improvement_pct=settings.kpi_target_modest_improvement_pct,
        ppi_pct=settings.kpi_target_ppi_pct,
        staff_trained=settings.qsir_target_trained,
        projects_coached=settings.kpi_target_projects_coached,
        qi_cafe_months=settings.kpi_target_qi_cafe_months,
        sustainability_pct=settings.kpi_target_sustainability_pct,
    )


def project_facts(session: Session, as_of: date) -> list[ProjectFacts]:
    # Every project's own history: `improve` items' and standalone projects' alike.
    scores = {pid: row.score for pid, row in latest_project_scores(session, as_of).items()}
    coached = set(
        session.exec(
            select(CoachingSession.project_id).where(col(CoachingSession.held_on) <= as_of)
        ).all()
    )
    out = []
    for p in session.exec(select(ImprovementProject)).all():
        # A project whose status changed after the day was still active on the day.
        done_by_then = p.completed_on is not None and p.completed_on <= as_of
        status = p.status.value if done_by_then or p.status.value == "active" else "active"
        out.append(
            ProjectFacts(
                status=status,
                started_on=p.started_on,
                completed_on=p.completed_on if done_by_then else None,
                latest_score=scores.get(p.id or 0),
                ppi_level=p.ppi_level.value,
                co2e_kg=p.co2e_kg,
                sustainability_note=p.sustainability_note,
                coached=p.id in coached,
            )
        )
    return out


def trained_staff(session: Session, as_of: date) -> set[int]:
    """Distinct staff trained by ``as_of``: QSIR Practitioner or Fundamentals completed, or
    attendance at a QI training event (Fundamentals or similar)."""
    qsir = session.exec(
        select(QsirNomination.staff_id).where(
            QsirNomination.status == NominationStatus.completed,
            col(QsirNomination.completed_on) <= as_of,
        )
    ).all()
    events = session.exec(
        select(QiEventAttendance.staff_id)
        .join(QiEvent, col(QiEvent.id) == col(QiEventAttendance.event_id))
        .where(QiEvent.kind == QiEventKind.training, col(QiEvent.held_on) <= as_of)
    ).all()
    return set(qsir) | set(events)


def qi_cafe_days(session: Session, as_of: date) -> list[date]:
    events = session.exec(
        select(QiEvent).where(QiEvent.kind == QiEventKind.qi_cafe, col(QiEvent.held_on) <= as_of)
    ).all()
    return [e.held_on for e in events]


def scorecard(session: Session, settings: Settings, as_of: date) -> list[Kpi]:
    return compute(
        project_facts(session, as_of),
        staff_trained=len(trained_staff(session, as_of)),
        qi_cafe_days=qi_cafe_days(session, as_of),
        as_of=as_of,
        targets=targets_from(settings),
    )


def month_ends(as_of: date, months: int = 12) -> list[date]:
    """The last day of each of the ``months - 1`` full months before as_of's, then as_of."""
    out = [as_of]
    day = as_of.replace(day=1)
    for _ in range(months - 1):
        day = day - timedelta(days=1)
        out.append(day)
        day = day.replace(day=1)
    return out[::-1]


def kpi_trends(
    session: Session, settings: Settings, as_of: date, months: int = 12
) -> dict[str, dict[str, Any]]:
    """Each KPI month by month as a Making Data Count XmR (the pack's chart shape), with the
    assurance icon against the KPI's target (higher is better for every KPI)."""
    ends = month_ends(as_of, months)
    by_kpi: dict[str, list[float | None]] = {}
    targets: dict[str, float] = {}
    for day in ends:
        for k in scorecard(session, settings, day):
            by_kpi.setdefault(k.kpi, []).append(k.value)
            targets[k.kpi] = k.target
    stamps = [pd.Timestamp(d.replace(day=1)) for d in ends]
    out: dict[str, dict[str, Any]] = {}
    for kpi, values in by_kpi.items():
        chart = spc(
            stamps,
            [float("nan") if v is None else float(v) for v in values],
            improvement="increase",
            target=targets[kpi],
        )
        rows = chart.to_dict("records")
        points = [chart_point(d.strftime("%Y-%m"), r) for d, r in zip(ends, rows, strict=True)]
        out[kpi] = {
            "label": kpi,
            "target": targets[kpi],
            "points": points,
            **chart_icons(rows[-1]),
        }
    return out
