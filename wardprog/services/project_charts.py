"""A project's measure chart: the Making Data Count XmR of its ward metric, from the same
extracts as the ward's diagnostic pack, with its PDSA cycles marked (as Life QI plots them)
and, when the team asks, new limits from the first adopted change.

The series and the chart are exactly what ``wardprog spc`` gives for the same month/value
file: the one :func:`wardprog.rules.spc.spc` with the metric's direction and target.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.errors import NotFoundError
from wardprog.models import DiagnosticSnapshot, ImprovementProject, PdsaDecision, Site, Ward, Wave
from wardprog.models.base import require_id
from wardprog.reports.diagnostic_pack import render_pack, write_pack
from wardprog.reports.project_chart import pdsa_svg
from wardprog.rules.metrics import METRICS_BY_KEY, ward_month_metrics
from wardprog.rules.spc import spc
from wardprog.services.diagnostics import (
    _pack_context,
    baseline_period,
    load_extracts,
    pack_path_for,
)
from wardprog.services.projects import pdsa_cycles
from wardprog.services.spc_points import chart_icons, chart_point


def first_adoption(project: ImprovementProject, cycles: list[Any]) -> date | None:
    adopted = [c.decided_on or c.started_on for c in cycles if c.decision is PdsaDecision.adopt]
    return min(adopted) if adopted else None


def metric_series(
    settings: Settings, ward_code: str, metric: str, start: date, end: date
) -> pd.DataFrame:
    """The ward's monthly values of ``metric`` (columns month, value), oldest first."""
    extracts = load_extracts(settings)
    long = ward_month_metrics(extracts.for_wards([ward_code]).tables, start, end)
    return _series_from(long, ward_code, metric, start, end)


def _series_from(
    long: pd.DataFrame, ward_code: str, metric: str, start: date, end: date
) -> pd.DataFrame:
    """One ward-metric's months from ``start`` to ``end`` out of a wider long metrics frame.

    Each ward-month value depends on that ward's rows for that month alone, so filtering a frame
    computed for more wards and months gives exactly what a call for this one range would.
    """
    lo = pd.Timestamp(start).to_period("M").to_timestamp()
    hi = pd.Timestamp(end).to_period("M").to_timestamp()
    rows = long.loc[
        (long["ward_code"] == ward_code)
        & (long["metric"] == metric)
        & (long["month"] >= lo)
        & (long["month"] <= hi),
        ["month", "value"],
    ]
    return rows.sort_values("month").reset_index(drop=True)


def _chart_range(project: ImprovementProject, as_of: date) -> tuple[date, date]:
    """A year of history before the project began, up to the last full month."""
    start = min(baseline_period(project.started_on, 12)[0], project.started_on.replace(day=1))
    return start, as_of.replace(day=1) - relativedelta(days=1)


def _projects_long(
    settings: Settings, ward_codes: list[str], projects: list[ImprovementProject], as_of: date
) -> pd.DataFrame | None:
    """The ward-month metrics of these wards over every chart's range, computed in one pass.

    Charting project by project recomputed every metric of the ward for each measure (about
    0.2 s each, hundreds per refresh); one vectorised call for all wards costs about one of them.
    """
    ranges = [_chart_range(p, as_of) for p in projects if p.started_on <= as_of and p.metrics]
    if not ranges or not ward_codes:
        return None
    start, end = min(r[0] for r in ranges), max(r[1] for r in ranges)
    return ward_month_metrics(load_extracts(settings).for_wards(ward_codes).tables, start, end)


def measure_chart(
    session: Session,
    settings: Settings,
    project: ImprovementProject,
    metric: str,
    as_of: date,
    long: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """One chart dict (the pack's metric shape) plus its PDSA marks and rebase date.

    ``long``: the ward-month metrics already computed for this ward over at least the chart's
    range (see :func:`_projects_long`); without it the ward's metrics are computed here.
    """
    ward = session.get(Ward, project.ward_id) if project.ward_id else None
    if ward is None:
        raise NotFoundError(f"project {project.id} has no ward: its measures need ward data")
    definition = METRICS_BY_KEY[metric]
    start, end = _chart_range(project, as_of)
    series = (
        metric_series(settings, ward.code, metric, start, end)
        if long is None
        else _series_from(long, ward.code, metric, start, end)
    )
    cycles = pdsa_cycles(session, require_id(project))
    rebase_at = first_adoption(project, cycles) if project.rebase_at_first_adoption else None
    rebase = [rebase_at.replace(day=1)] if rebase_at else []
    points: list[dict[str, Any]] = []
    if not series.empty:
        chart = spc(
            series["month"],
            series["value"],
            improvement=definition.improvement,
            target=definition.target,
            rebase=rebase,
        )
        points = [
            {
                **chart_point(pd.Timestamp(r["date"]).strftime("%Y-%m"), r),
                "date": pd.Timestamp(r["date"]).date().isoformat(),
            }
            for r in chart.to_dict("records")
        ]
        icons = chart_icons(chart.iloc[-1])
    else:
        icons = {"variation_icon": None, "assurance_icon": None}
    return {
        "project_id": project.id,
        "project_title": project.title,
        "metric": metric,
        "label": definition.label,
        "unit": definition.unit,
        "improvement": definition.improvement,
        "target": definition.target,
        "decimals": definition.decimals,
        "rebased_at": rebase[0].isoformat() if rebase else None,
        "pdsa": [
            {
                "number": c.number,
                "date": c.started_on.isoformat(),
                "month": c.started_on.strftime("%Y-%m"),
                "decision": c.decision.value if c.decision else None,
            }
            for c in cycles
            if c.started_on <= as_of
        ],
        "points": points,
        **icons,
    }


def ward_project_charts(
    session: Session,
    settings: Settings,
    ward: Ward,
    as_of: date,
    long: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Every measure chart of the ward's projects (active and completed), project by project."""
    projects = list(
        session.exec(
            select(ImprovementProject)
            .where(ImprovementProject.ward_id == ward.id)
            .order_by(col(ImprovementProject.id))
        ).all()
    )
    if long is None:
        long = _projects_long(settings, [ward.code], projects, as_of)
    elif not long.empty:
        long = long.loc[long["ward_code"] == ward.code]  # slice once, not per chart
    return [
        measure_chart(session, settings, p, metric, as_of, long)
        for p in projects
        if p.started_on <= as_of
        for metric in p.metrics
    ]


def write_ward_pack(
    session: Session,
    settings: Settings,
    ward_code: str,
    as_of: date,
    long: pd.DataFrame | None = None,
) -> Path:
    """Re-render the ward's diagnostic pack (its latest snapshot) with its projects' charts."""
    ward = session.exec(select(Ward).where(Ward.code == ward_code)).first()
    if ward is None:
        raise NotFoundError(f"no ward with code {ward_code!r} in the register")
    snap = session.exec(
        select(DiagnosticSnapshot)
        .where(DiagnosticSnapshot.ward_id == ward.id)
        .order_by(col(DiagnosticSnapshot.as_of).desc(), col(DiagnosticSnapshot.id).desc())
    ).first()
    if snap is None:
        raise NotFoundError(f"{ward_code} has no diagnostic snapshot yet: pull its data first")
    site = session.get(Site, ward.site_id)
    assert site is not None
    wave = session.get(Wave, snap.wave_id) if snap.wave_id else None
    context = _pack_context(ward, site, wave.number if wave else None, snap)
    context["projects"] = [
        c | {"svg": pdsa_svg(c)} for c in ward_project_charts(session, settings, ward, as_of, long)
    ]
    path = Path(snap.pack_path) if snap.pack_path else pack_path_for(settings, ward.code)
    return write_pack(path, render_pack(context))


def refresh_project_packs(session: Session, settings: Settings, as_of: date) -> list[Path]:
    """Re-render the pack of every ward with a measured project (and a snapshot to start from)."""
    projects = list(session.exec(select(ImprovementProject)).all())
    ward_ids = {
        p.ward_id for p in projects if p.ward_id is not None and p.metrics and p.started_on <= as_of
    }
    with_snapshot = set(session.exec(select(DiagnosticSnapshot.ward_id)).all())
    wards = session.exec(select(Ward).order_by(col(Ward.code))).all()
    chosen = [w for w in wards if w.id in ward_ids and w.id in with_snapshot]
    # Every chosen ward's metrics in one vectorised pass, sliced per chart below.
    long = _projects_long(
        settings,
        [w.code for w in chosen],
        [p for p in projects if p.ward_id in {w.id for w in chosen}],
        as_of,
    )
    if long is None:
        return [write_ward_pack(session, settings, w.code, as_of) for w in chosen]
    by_ward = {str(c): f for c, f in long.groupby("ward_code", sort=False, observed=True)}
    return [
        write_ward_pack(session, settings, w.code, as_of, by_ward.get(w.code, long.iloc[0:0]))
        for w in chosen
    ]
