"""A project's measure chart: the Making Data Count XmR of its ward metric, from the same
extracts as the ward's diagnostic pack, with its PDSA cycles marked (as Life QI plots them)
and, when the team asks, new limits from the first adopted change.

The series and the chart are exactly what ``wardprog spc`` gives for the same month/value
file: the one :func:`wardprog.rules.spc.spc` with the metric's direction and target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.errors import NotFoundError
from wardprog.models import (
    DiagnosticSnapshot,
    ImprovementProject,
    PdsaCycle,
    PdsaDecision,
    Site,
    Ward,
    Wave,
)
from wardprog.models.base import require_id
from wardprog.reports.diagnostic_pack import render_pack, write_pack
from wardprog.reports.project_chart import pdsa_svg
from wardprog.rules.metrics import METRICS_BY_KEY, baseline_period, ward_month_metrics
from wardprog.rules.spc import spc, spc_frame
from wardprog.services.context import ward_by_code
from wardprog.services.diagnostics import (
    _pack_context,
    load_extracts,
    pack_path_for,
)
from wardprog.services.projects.records import pdsa_cycles, project_ward
from wardprog.services.spc_points import POINT_COLUMNS, chart_icons, chart_point, records


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


@dataclass(frozen=True)
class ChartInput:
    """What one measure chart is drawn from: the project's ward-metric series and PDSA log."""

    project: ImprovementProject
    metric: str
    series: pd.DataFrame  # month, value: oldest first
    cycles: list[PdsaCycle]
    rebase: tuple[date, ...]  # the month of the first adopted change, if the team asked


def chart_input(
    session: Session,
    settings: Settings,
    project: ImprovementProject,
    metric: str,
    as_of: date,
    long: pd.DataFrame | None = None,
) -> ChartInput:
    """The series, cycles and rebase month of one measure chart.

    ``long``: the ward-month metrics already computed for this ward over at least the chart's
    range (see :func:`_projects_long`); without it the ward's metrics are computed here.
    """
    ward = project_ward(session, project)
    if ward is None:
        raise NotFoundError(f"project {project.id} has no ward: its measures need ward data")
    start, end = _chart_range(project, as_of)
    series = (
        metric_series(settings, ward.code, metric, start, end)
        if long is None
        else _series_from(long, ward.code, metric, start, end)
    )
    cycles = pdsa_cycles(session, require_id(project))
    rebase_at = first_adoption(project, cycles) if project.rebase_at_first_adoption else None
    return ChartInput(
        project, metric, series, cycles, (rebase_at.replace(day=1),) if rebase_at else ()
    )


def measure_chart(
    session: Session, settings: Settings, project: ImprovementProject, metric: str, as_of: date
) -> dict[str, Any]:
    """One chart dict (the pack's metric shape) plus its PDSA marks and rebase date, drawn by
    `spc` alone (what `wardprog projects chart` shows and a refresh's one pass must equal)."""
    chart = chart_input(session, settings, project, metric, as_of)
    definition = METRICS_BY_KEY[metric]
    xmr = (
        None
        if chart.series.empty
        else spc(
            chart.series["month"],
            chart.series["value"],
            improvement=definition.improvement,
            target=definition.target,
            rebase=chart.rebase,
        )
    )
    return chart_dict(chart, xmr, as_of)


def charts_together(charts: Sequence[ChartInput]) -> list[pd.DataFrame | None]:
    """Each chart's XmR frame (None for an empty series), as :func:`spc` draws it alone.

    Charts that share their rebase months are drawn in one :func:`spc_frame` pass, one series
    each (every rule works within a series, so each comes out as it would on its own): a
    monthly pack refresh draws hundreds of measure charts, and one pass costs about one chart.
    """
    out: list[pd.DataFrame | None] = [None] * len(charts)
    groups: dict[tuple[date, ...], list[int]] = {}
    for i, chart in enumerate(charts):
        if not chart.series.empty:
            groups.setdefault(chart.rebase, []).append(i)
    for rebase, members in groups.items():
        frame = pd.concat(
            [
                charts[i].series.assign(
                    chart=i,
                    improvement=str(METRICS_BY_KEY[charts[i].metric].improvement),
                    target=METRICS_BY_KEY[charts[i].metric].target,
                )
                for i in members
            ],
            ignore_index=True,
        )
        drawn = spc_frame(
            frame.astype({"value": float, "target": float}),
            by=["chart"],
            date_col="month",
            improvement_col="improvement",
            target_col="target",
            rebase=rebase,
        ).rename(columns={"month": "date"})
        # `members` ascend, as the groups do: each chart's rows, in date order.
        for i, (_, xmr) in zip(members, drawn.groupby("chart"), strict=True):
            out[i] = xmr.drop(columns=["chart", "improvement"]).reset_index(drop=True)
    return out


def chart_dict(chart: ChartInput, xmr: pd.DataFrame | None, as_of: date) -> dict[str, Any]:
    """The pack's chart shape: points, icons, PDSA marks (cycles started by ``as_of``)."""
    project, definition = chart.project, METRICS_BY_KEY[chart.metric]
    points: list[dict[str, Any]] = []
    if xmr is not None:
        points = [
            {
                **chart_point(pd.Timestamp(r["date"]).strftime("%Y-%m"), r),
                "date": pd.Timestamp(r["date"]).date().isoformat(),
            }
            for r in records(xmr, ["date", *POINT_COLUMNS])
        ]
        icons = chart_icons(xmr.iloc[-1])
    else:
        icons = {"variation_icon": None, "assurance_icon": None}
    return {
        "project_id": project.id,
        "project_title": project.title,
        "metric": chart.metric,
        "label": definition.label,
        "unit": definition.unit,
        "improvement": definition.improvement,
        "target": definition.target,
        "decimals": definition.decimals,
        "rebased_at": chart.rebase[0].isoformat() if chart.rebase else None,
        "pdsa": [
            {
                "number": c.number,
                "date": c.started_on.isoformat(),
                "month": c.started_on.strftime("%Y-%m"),
                "decision": c.decision.value if c.decision else None,
            }
            for c in chart.cycles
            if c.started_on <= as_of
        ],
        "points": points,
        **icons,
    }


def ward_chart_inputs(
    session: Session,
    settings: Settings,
    ward: Ward,
    as_of: date,
    long: pd.DataFrame | None = None,
) -> list[ChartInput]:
    """What every measure chart of the ward's projects (active and completed) is drawn from."""
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
    # Each chart reads one metric: split the ward's frame by metric once, not per chart.
    by_metric = (
        {}
        if long is None or long.empty
        else {str(m): f for m, f in long.groupby("metric", sort=False, observed=True)}
    )
    return [
        chart_input(
            session, settings, p, metric, as_of,
            None if long is None else by_metric.get(metric, long.iloc[0:0]),
        )
        for p in projects
        if p.started_on <= as_of
        for metric in p.metrics
    ]  # fmt: skip


def ward_project_charts(
    session: Session,
    settings: Settings,
    ward: Ward,
    as_of: date,
    long: pd.DataFrame | None = None,
) -> list[dict[str, Any]]:
    """Every measure chart of the ward's projects (active and completed), project by project."""
    return _drawn(ward_chart_inputs(session, settings, ward, as_of, long), as_of)


def _drawn(inputs: list[ChartInput], as_of: date) -> list[dict[str, Any]]:
    return [
        chart_dict(c, xmr, as_of) for c, xmr in zip(inputs, charts_together(inputs), strict=True)
    ]


def write_ward_pack(
    session: Session,
    settings: Settings,
    ward_code: str,
    as_of: date,
    charts: list[dict[str, Any]] | None = None,
) -> Path:
    """Re-render the ward's diagnostic pack (its latest snapshot) with its projects' charts.

    ``charts``: the ward's measure charts already drawn (:func:`refresh_project_packs` draws
    every ward's at once); without them they are drawn here.
    """
    ward = ward_by_code(session, ward_code)
    snap = session.exec(
        select(DiagnosticSnapshot)
        .where(DiagnosticSnapshot.ward_id == ward.id)
        .order_by(col(DiagnosticSnapshot.as_of).desc(), col(DiagnosticSnapshot.id).desc())
        .limit(1)  # one row read and its JSON decoded, not the ward's every snapshot
    ).first()
    if snap is None:
        raise NotFoundError(f"{ward_code} has no diagnostic snapshot yet: pull its data first")
    site = session.get(Site, ward.site_id)
    assert site is not None
    wave = session.get(Wave, snap.wave_id) if snap.wave_id else None
    context = _pack_context(ward, site, wave.number if wave else None, snap)
    if charts is None:
        charts = ward_project_charts(session, settings, ward, as_of)
    context["projects"] = [c | {"svg": pdsa_svg(c)} for c in charts]
    path = Path(snap.pack_path) if snap.pack_path else pack_path_for(settings, ward.code)
    return write_pack(path, render_pack(context))


def refresh_project_packs(session: Session, settings: Settings, as_of: date) -> list[Path]:
    """Re-render the pack of every ward with a measured project (and a snapshot to start from).

    Every chosen ward's metrics come from one vectorised pass and every chart from one SPC pass
    (per set of rebase months), then each pack is written with its own charts.
    """
    projects = list(session.exec(select(ImprovementProject)).all())
    ward_ids = {
        p.ward_id for p in projects if p.ward_id is not None and p.metrics and p.started_on <= as_of
    }
    with_snapshot = set(session.exec(select(DiagnosticSnapshot.ward_id)).all())
    wards = session.exec(select(Ward).order_by(col(Ward.code))).all()
    chosen = [w for w in wards if w.id in ward_ids and w.id in with_snapshot]
    long = _projects_long(
        settings,
        [w.code for w in chosen],
        [p for p in projects if p.ward_id in {w.id for w in chosen}],
        as_of,
    )
    if long is None:  # no ward has a measured project under way
        return []
    by_ward = {str(c): f for c, f in long.groupby("ward_code", sort=False, observed=True)}
    inputs = {
        w.code: ward_chart_inputs(session, settings, w, as_of, by_ward.get(w.code, long.iloc[0:0]))
        for w in chosen
    }
    charts = iter(_drawn([c for ward in inputs.values() for c in ward], as_of))
    return [
        write_ward_pack(session, settings, w.code, as_of, [next(charts) for _ in inputs[w.code]])
        for w in chosen
    ]
