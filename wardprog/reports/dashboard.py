"""The programme dashboard: one static HTML page the improvement team and the board can read.

Wards by stage per wave and site, triage by category (% of fixes closed, overdue items),
improvement projects by latest IHI score against the strategy's target (75% of completed
projects scoring at least 3.0, "modest improvement"), QSIR trained against target, and SPC
signals across wards. Charts are inline SVG so the file works offline and in e-mail.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment
from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.models import (
    STAGE_ORDER,
    DiagnosticSnapshot,
    ImprovementScore,
    Site,
    TriageCategory,
    Ward,
)
from wardprog.queries import (
    items_as_of,
    overdue_by_ward,
    overdue_items,
    training,
    ward_statuses,
)
from wardprog.reports import template_env
from wardprog.reports.icons import icon_svg, signal_icon
from wardprog.rules.metrics import METRICS_BY_KEY

IHI_MODEST_IMPROVEMENT = 3.0
IHI_TARGET_SHARE = 0.75


@dataclass
class DashboardData:
    as_of: date
    stages: list[str]
    by_wave: list[dict[str, Any]]
    by_site: list[dict[str, Any]]
    triage: list[dict[str, Any]]
    fixes_closed_pct: float | None
    overdue: list[dict[str, Any]]
    # Per ward: overdue items, the oldest due date, and a link to the ward's own list.
    overdue_wards: list[dict[str, Any]]
    ihi_histogram: list[dict[str, Any]]
    projects_completed: int
    projects_at_target: int
    trained: int
    target_trained: int
    booked: int
    signals: list[dict[str, Any]] = field(default_factory=list)
    # The QI strategy's scorecard (wardprog.services.scorecard), each KPI with its trend chart.
    scorecard: list[dict[str, Any]] = field(default_factory=list)
    # Trust-wide themes raised by two or more wards (``services.themes``), most wards first.
    themes: list[dict[str, Any]] = field(default_factory=list)
    # Each ward's latest 3/6-month re-check verdicts (``services.diagnostics.latest_rechecks``).
    rechecks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ihi_share(self) -> float | None:
        if not self.projects_completed:
            return None
        return self.projects_at_target / self.projects_completed


def dashboard_data(session: Session, settings: Settings, as_of: date) -> DashboardData:
    """Every figure as the programme stood on ``as_of``, read from ``wardprog.queries``."""
    tz = settings.timezone
    statuses = ward_statuses(session, as_of, tz)
    stages = [s.value for s in STAGE_ORDER]
    wave_counts: dict[int, Counter[str]] = defaultdict(Counter)
    site_counts: dict[str, Counter[str]] = defaultdict(Counter)
    for s in statuses:
        wave_counts[s.wave_number][s.stage.value] += 1
        site_counts[s.site_code][s.stage.value] += 1

    items = items_as_of(session, as_of, tz)
    triage = []
    for category in TriageCategory:
        mine = [i for i in items if i.item.category == category]
        closed = sum(1 for i in mine if not i.open)
        triage.append({"category": category.value, "total": len(mine), "closed": closed})
    fix_items = [i for i in items if i.item.category == TriageCategory.fix]
    fixes_closed = sum(1 for i in fix_items if not i.open)
    fixes_pct = 100.0 * fixes_closed / len(fix_items) if fix_items else None

    overdue = overdue_items(session, as_of, tz)
    links = ward_links(session, settings)
    overdue_wards = [row | {"link": links.get(row["ward"], "")} for row in overdue_by_ward(overdue)]

    latest: dict[int, float] = {}
    for score in session.exec(
        select(ImprovementScore)
        .where(col(ImprovementScore.scored_on) <= as_of)
        .order_by(col(ImprovementScore.scored_on), col(ImprovementScore.id))
    ).all():
        if score.triage_item_id is not None:  # projects outside the programme: the scorecard
            latest[score.triage_item_id] = score.score
    improve = [i for i in items if i.item.category == TriageCategory.improve]
    scores = [latest[i.item.id] for i in improve if i.item.id in latest]
    histogram = Counter(scores)
    completed = [latest[i.item.id] for i in improve if not i.open and i.item.id in latest]

    # The same QSIR figures `wardprog status` prints (queries.training).
    qsir = training(session, settings, as_of)
    trained = qsir["trained"]
    booked = qsir["buckets"]["in_training"]
    wards = {w.id: w for w in session.exec(select(Ward)).all()}

    sites = {s.id: s.code for s in session.exec(select(Site)).all()}
    signals: list[dict[str, Any]] = []
    # The three columns the signals need, not whole snapshots: each baseline's metrics JSON
    # (most of a snapshot) was decoded and dropped on every dashboard and board report.
    for snap_ward, snap_day, snap_signals in session.exec(
        select(
            col(DiagnosticSnapshot.ward_id),
            col(DiagnosticSnapshot.as_of),
            col(DiagnosticSnapshot.signals),
        ).where(DiagnosticSnapshot.kind == "baseline")
    ).all():
        if snap_day > as_of:  # pulled after the day the dashboard reads
            continue
        ward = wards.get(snap_ward)
        if ward is None:
            continue
        for sig in snap_signals:
            key = str(sig.get("metric", ""))
            known = METRICS_BY_KEY.get(key)
            signals.append(
                {
                    "ward": ward.code,
                    "site": sites.get(ward.site_id, ""),
                    "metric_key": key,
                    # The name the diagnostic packs use, not the column identifier.
                    "metric": str(sig.get("label") or (known.label if known else key)),
                    "kind": str(
                        sig.get("point_type") or sig.get("variation_icon") or sig.get("kind", "")
                    ),
                    "icon": signal_icon(sig),
                }
            )
    return DashboardData(
        as_of=as_of,
        stages=stages,
        by_wave=[{"label": f"Wave {n}", "counts": dict(c)} for n, c in sorted(wave_counts.items())],
        by_site=[{"label": site, "counts": dict(c)} for site, c in sorted(site_counts.items())],
        triage=triage,
        fixes_closed_pct=fixes_pct,
        overdue=overdue,
        overdue_wards=overdue_wards,
        ihi_histogram=[
            {"score": s, "count": histogram.get(s, 0)} for s in [x / 2 for x in range(1, 11)]
        ],
        projects_completed=len(completed),
        projects_at_target=sum(1 for s in completed if s >= IHI_MODEST_IMPROVEMENT),
        trained=trained,
        target_trained=settings.qsir_target_trained,
        booked=booked,
        signals=signals,
        scorecard=scorecard_rows(session, settings, as_of),
        themes=_themes(session, as_of),
        rechecks=_rechecks(session, as_of),
    )


def ward_links(session: Session, settings: Settings) -> dict[str, str]:
    """Where a ward's own list lives: its ward page when ward pages are served (``web_url``
    configured), else its latest diagnostic pack, relative to the dashboard so the folder can
    be copied whole. The page asks the reader to sign in; the link carries no token."""
    if "web_url" in settings.model_fields_set:
        base = settings.web_url.rstrip("/")
        return {code: f"{base}/w/{quote(code)}" for code in session.exec(select(Ward.code)).all()}
    out: dict[str, str] = {}
    for code, pack in session.exec(
        select(Ward.code, DiagnosticSnapshot.pack_path)
        .where(DiagnosticSnapshot.ward_id == Ward.id, DiagnosticSnapshot.kind == "baseline")
        .order_by(col(DiagnosticSnapshot.id))
    ).all():
        if pack:
            out[code] = _relative(Path(pack), settings.output_dir)
    return out


def _relative(path: Path, folder: Path) -> str:
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_uri()


def scorecard_rows(session: Session, settings: Settings, as_of: date) -> list[dict[str, Any]]:
    from wardprog.reports.diagnostic_pack import ICON_TEXT, spc_svg
    from wardprog.services.scorecard import kpi_trends, read_records, scorecard_on

    records = read_records(session)  # one read for the trend's twelve month ends and today
    trends = kpi_trends(session, settings, as_of, records=records)
    return [
        k.as_json()
        | {
            "shown": k.shown,
            "trend_svg": spc_svg(trends[k.kpi], width=320, height=110),
            "assurance": ICON_TEXT.get(trends[k.kpi]["assurance_icon"] or "", ""),
        }
        for k in scorecard_on(records, settings, as_of)
    ]


def _rechecks(session: Session, as_of: date) -> list[dict[str, Any]]:
    from wardprog.services.diagnostics import latest_rechecks

    return latest_rechecks(session, as_of)


def _themes(session: Session, as_of: date) -> list[dict[str, Any]]:
    from wardprog.services.themes import theme_rows

    return theme_rows(session, min_wards=2, as_of=as_of)[:15]


def _env() -> Environment:
    return template_env(strict=False)


def render_dashboard(data: DashboardData) -> str:
    signal_by_metric = Counter(s["metric"] for s in data.signals)
    signal_by_site = Counter(s["site"] for s in data.signals)
    icons: dict[str, Counter[str]] = defaultdict(Counter)
    for s in data.signals:
        if s.get("icon"):
            icons[s["metric"]][s["icon"]] += 1
    return (
        _env()
        .get_template("dashboard.html")
        .render(
            d=data,
            signal_by_metric=sorted(signal_by_metric.items(), key=lambda kv: (-kv[1], kv[0])),
            signal_by_site=sorted(signal_by_site.items()),
            signal_icons={k: sorted(v.items()) for k, v in icons.items()},
            mdc_icon=icon_svg,
            ihi_target=IHI_TARGET_SHARE,
            ihi_modest=IHI_MODEST_IMPROVEMENT,
        )
    )


def write_dashboard(session: Session, settings: Settings, as_of: date) -> Path:
    path = settings.output_dir / "dashboard.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_dashboard(dashboard_data(session, settings, as_of)), encoding="utf-8")
    return path
