"""The QI strategy's scorecard from the records: gathers the facts as of a date for
:mod:`wardprog.rules.scorecard` (`wardprog kpis`, the dashboard, the improvement-team digest)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.models import (
    CoachingSession,
    ImprovementProject,
    ImprovementScore,
    NominationStatus,
    QiEvent,
    QiEventAttendance,
    QiEventKind,
    QsirNomination,
)
from wardprog.rules.scorecard import Kpi, ProjectFacts, Targets
from wardprog.rules.scorecard import scorecard as compute
from wardprog.rules.spc import spc
from wardprog.services.projects.scores import scores_by_project
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


@dataclass(frozen=True)
class ScorecardRecords:
    """Everything the scorecard reads, read once; each day's facts are then taken in memory.

    The dashboard's KPI trends need the scorecard on twelve month ends: reading the projects
    (and decoding their JSON columns), the score history and the rest once instead of twelve
    times was most of the dashboard's cost. Each filter below is its query's ``WHERE``.
    """

    projects: list[ImprovementProject]
    # Each project's score history, oldest first (``scores_by_project`` with no day).
    scores: dict[int, list[ImprovementScore]]
    coaching: list[tuple[int, date | None]]  # (project id, held on)
    qsir_completions: list[tuple[int, date | None]]  # (staff id, completed on)
    training_attendance: list[tuple[int, date]]  # (staff id, training event held on)
    qi_cafes: list[date]


def read_records(session: Session) -> ScorecardRecords:
    return ScorecardRecords(
        projects=list(session.exec(select(ImprovementProject)).all()),
        scores=scores_by_project(session),
        coaching=list(
            session.exec(
                select(col(CoachingSession.project_id), col(CoachingSession.held_on))
            ).all()
        ),
        qsir_completions=list(
            session.exec(
                select(col(QsirNomination.staff_id), col(QsirNomination.completed_on)).where(
                    QsirNomination.status == NominationStatus.completed
                )
            ).all()
        ),
        training_attendance=list(
            session.exec(
                select(col(QiEventAttendance.staff_id), col(QiEvent.held_on))
                .join(QiEvent, col(QiEvent.id) == col(QiEventAttendance.event_id))
                .where(QiEvent.kind == QiEventKind.training)
            ).all()
        ),
        qi_cafes=list(
            session.exec(
                select(col(QiEvent.held_on)).where(QiEvent.kind == QiEventKind.qi_cafe)
            ).all()
        ),
    )


def _on_or_before(day: date | None, as_of: date) -> bool:
    """SQL's ``day <= as_of``: a missing day is never on or before anything."""
    return day is not None and day <= as_of


def facts_on(records: ScorecardRecords, as_of: date) -> list[ProjectFacts]:
    # Every project's own history: `improve` items' and standalone projects' alike.
    scores = {}
    for pid, rows in records.scores.items():
        # The history is in day order: the last row on or before the day is the latest then.
        then = [r for r in rows if r.scored_on <= as_of]
        if then:
            scores[pid] = then[-1].score
    coached = {pid for pid, held in records.coaching if _on_or_before(held, as_of)}
    out = []
    for p in records.projects:
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


def _trained_on(records: ScorecardRecords, as_of: date) -> set[int]:
    """Distinct staff trained by ``as_of``: QSIR Practitioner or Fundamentals completed, or
    attendance at a QI training event (Fundamentals or similar)."""
    qsir = {staff for staff, done in records.qsir_completions if _on_or_before(done, as_of)}
    events = {staff for staff, held in records.training_attendance if _on_or_before(held, as_of)}
    return qsir | events


def scorecard(session: Session, settings: Settings, as_of: date) -> list[Kpi]:
    return scorecard_on(read_records(session), settings, as_of)


def scorecard_on(records: ScorecardRecords, settings: Settings, as_of: date) -> list[Kpi]:
    """The scorecard as it stood on ``as_of``, from records read once (see ``read_records``)."""
    return compute(
        facts_on(records, as_of),
        staff_trained=len(_trained_on(records, as_of)),
        qi_cafe_days=[d for d in records.qi_cafes if _on_or_before(d, as_of)],
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
    session: Session,
    settings: Settings,
    as_of: date,
    months: int = 12,
    records: ScorecardRecords | None = None,
) -> dict[str, dict[str, Any]]:
    """Each KPI month by month as a Making Data Count XmR (the pack's chart shape), with the
    assurance icon against the KPI's target (higher is better for every KPI)."""
    ends = month_ends(as_of, months)
    records = records or read_records(session)
    by_kpi: dict[str, list[float | None]] = {}
    targets: dict[str, float] = {}
    for day in ends:
        for k in scorecard_on(records, settings, day):
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
