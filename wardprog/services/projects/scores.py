"""Every project's IHI score history (an `improve` item's or a standalone project's), its
numeric aim, its measure series and the evidence a score of 3.0 or more needs.

The measure series is the project's own recorded measurements when it has any, otherwise the
ward's monthly diagnostic metric (the same extracts as its pack and measure chart) when the
aim's measure is one. Functions here take a Session and only flush: the handler owns the
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.errors import WardprogError
from wardprog.models import (
    ImprovementProject,
    ImprovementScore,
    ProjectMeasurement,
    TriageCategory,
)
from wardprog.models.base import require_id
from wardprog.rules.aims import (
    EVIDENCE_SCORE,
    EVIDENCE_SHARE,
    Aim,
    MeasureReading,
    aim_problems,
    latest_reading,
    needs_evidence,
)
from wardprog.rules.metrics import METRICS_BY_KEY
from wardprog.rules.triage import check_score_entry
from wardprog.services.context import triage_item
from wardprog.services.projects.charts import metric_series
from wardprog.services.projects.records import (
    ProjectError,
    ensure_project_for_item,
    project_ward,
    score_given_already,
)


def project_of_item(session: Session, item_id: int, on: date) -> ImprovementProject:
    """The project record of an `improve` item (only those carry an IHI score)."""
    item = triage_item(session, item_id)
    if item.category is not TriageCategory.improve:
        raise ProjectError(
            f"Triage item {item_id} is a {item.category.value}; only improvement projects "
            "carry an IHI score"
        )
    return ensure_project_for_item(session, item, on)


# --- the aim -------------------------------------------------------------------------------


def aim_of(project: ImprovementProject) -> Aim | None:
    """The project's numeric aim, or None while it has none (or only part of one)."""
    if aim_problems(
        project.aim_measure, project.aim_baseline, project.aim_target, project.aim_direction
    ):
        return None
    assert project.aim_baseline is not None and project.aim_target is not None
    return Aim(
        project.aim_measure,
        project.aim_baseline,
        project.aim_target,
        "increase" if project.aim_direction == "increase" else "decrease",
        project.aim_by,
    )


def check_aim(project: ImprovementProject) -> None:
    """A project whose aim has been touched must have a whole, consistent one."""
    fields = (project.aim_measure, project.aim_baseline, project.aim_target, project.aim_direction)
    if not any(f not in ("", None) for f in fields) and project.aim_by is None:
        return
    problems = aim_problems(*fields)
    if problems:
        raise ProjectError(f"project {project.id}: " + "; ".join(problems))
    if project.aim_measure in METRICS_BY_KEY and project.aim_measure not in project.metrics:
        # A ward metric as the aim is also charted in the ward's pack.
        project.metrics = [*project.metrics, project.aim_measure]


# --- the measure series ----------------------------------------------------------------------


def add_measurement(
    session: Session,
    project: ImprovementProject,
    measured_on: date,
    value: float,
    note: str,
    recorded_by: str,
) -> tuple[ProjectMeasurement, bool]:
    """Record (or correct) the project's own measure on a day; True when it is new."""
    row = session.exec(
        select(ProjectMeasurement).where(
            ProjectMeasurement.project_id == project.id,
            ProjectMeasurement.measured_on == measured_on,
        )
    ).first()
    created = row is None
    if row is None:
        row = ProjectMeasurement(
            project_id=require_id(project),
            measured_on=measured_on,
            value=value,
        )
    row.value, row.note, row.recorded_by = value, note, recorded_by
    session.add(row)
    session.flush()
    return row, created


@dataclass(frozen=True)
class Series:
    """A project's measure values, oldest first, and where they came from (for messages)."""

    points: list[tuple[date, float]]
    source: str


def measure_series(
    session: Session, settings: Settings, project: ImprovementProject, until: date
) -> Series:
    own = session.exec(
        select(ProjectMeasurement)
        .where(
            ProjectMeasurement.project_id == project.id,
            col(ProjectMeasurement.measured_on) <= until,
        )
        .order_by(col(ProjectMeasurement.measured_on))
    ).all()
    if own:
        return Series([(m.measured_on, m.value) for m in own], "its recorded measurements")
    ward = project_ward(session, project)
    if project.aim_measure not in METRICS_BY_KEY or ward is None:
        return Series([], "its recorded measurements (none yet)")
    # Whole months only, as the pack and the measure chart show them.
    end = until.replace(day=1) - relativedelta(days=1)
    start = project.started_on.replace(day=1) - relativedelta(months=12)
    source = f"{ward.code}'s {METRICS_BY_KEY[project.aim_measure].label} extracts"
    try:
        frame = metric_series(settings, ward.code, project.aim_measure, start, end)
    except WardprogError as exc:
        return Series([], f"{source} (unreadable: {exc})")
    points = [
        (m.date() if hasattr(m, "date") else m, float(v))
        for m, v in zip(frame["month"], frame["value"], strict=True)
        if v == v  # a month without data is not a reading
    ]
    return Series(points, source)


def reading(
    session: Session, settings: Settings, project: ImprovementProject, on: date
) -> tuple[Aim | None, MeasureReading | None, Series | None]:
    aim = aim_of(project)
    if aim is None:
        return None, None, None
    series = measure_series(session, settings, project, on)
    try:
        return aim, latest_reading(aim, series.points, on), series
    except LookupError:
        return aim, None, series


def _no_evidence(
    project: ImprovementProject,
    aim: Aim | None,
    found: MeasureReading | None,
    series: Series | None,
    score: float,
) -> str:
    head = (
        f"project {project.id}: a score of {score:.1f} ({EVIDENCE_SCORE:.1f} or more) "
        "needs evidence"
    )
    share = f"{EVIDENCE_SHARE:.0%}"
    if aim is None:
        why = (
            "it has no numeric aim (set the aim's measure, baseline, target and direction "
            "with `wardprog projects update`)"
        )
    elif found is None:
        assert series is not None
        why = f"{aim.measure} has no value yet from {series.source}"
    else:
        why = (
            f"the latest {aim.measure} ({found.value:g} on {found.on.isoformat()}) is "
            f"{found.progress:.0%} of the way from {aim.baseline:g} to {aim.target:g}, "
            f"short of {share}"
        )
    return f"{head}: {why}; or give an evidence note saying why the measure cannot show it yet"


# --- the score history ---------------------------------------------------------------------


def record_score(
    session: Session,
    settings: Settings,
    project: ImprovementProject,
    score: float,
    scored_by: str,
    scored_on: date,
    justification: str,
    evidence_note: str = "",
) -> ImprovementScore:
    """Add to the project's IHI score history, refusing a ≥ 3.0 without evidence.

    The same score by the same person on the same day again returns the existing row.
    """
    try:
        score = check_score_entry(score, scored_by, justification)
    except ValueError as exc:
        raise ProjectError(str(exc)) from exc
    existing = score_given_already(
        session, scored_on, scored_by, score, of=ImprovementScore.project_id == project.id
    )
    if existing is not None:
        return existing
    evidence_value = None
    if needs_evidence(score):
        aim, found, series = reading(session, settings, project, scored_on)
        if found is not None and found.is_evidence:
            evidence_value = found.value
        elif not evidence_note.strip():
            raise ProjectError(_no_evidence(project, aim, found, series, score))
    row = ImprovementScore(
        triage_item_id=project.triage_item_id,
        project_id=project.id,
        score=score,
        scored_by=scored_by.strip(),
        scored_on=scored_on,
        justification=justification.strip(),
        evidence_value=evidence_value,
        evidence_note=evidence_note.strip(),
    )
    session.add(row)
    session.flush()
    return row


def scores_by_project(
    session: Session, as_of: date | None = None
) -> dict[int, list[ImprovementScore]]:
    """Every project's score history (oldest first), recorded on or before ``as_of``.

    A row recorded against an item alone (as triage's starting score is) counts for the item's
    project: one history, whichever door the score came in by.
    """
    query = select(ImprovementScore).order_by(
        col(ImprovementScore.scored_on), col(ImprovementScore.id)
    )
    if as_of is not None:
        query = query.where(col(ImprovementScore.scored_on) <= as_of)
    rows = session.exec(query).all()
    by_item = {
        item_id: project_id
        for item_id, project_id in session.exec(
            select(ImprovementProject.triage_item_id, ImprovementProject.id).where(
                col(ImprovementProject.triage_item_id).is_not(None)
            )
        ).all()
    }
    out: dict[int, list[ImprovementScore]] = {}
    for row in rows:
        project_id = row.project_id or by_item.get(row.triage_item_id or 0)
        if project_id is not None:
            out.setdefault(project_id, []).append(row)
    return out


def latest_project_scores(
    session: Session, as_of: date | None = None
) -> dict[int, ImprovementScore]:
    """Each project's latest score row on or before ``as_of``."""
    return {pid: rows[-1] for pid, rows in scores_by_project(session, as_of).items()}
