"""The diagnostic stage: pull a ward's baseline data, chart it, store a snapshot, send the pack.

Data flows one way: extracts (``sources``) -> ward-month metrics and SPC (``rules``) -> a
:class:`DiagnosticSnapshot` in the caller's transaction -> the HTML pack (``reports``) and a
``diagnostic_pack_ready`` notification in the outbox. Extracts that cannot be read, or that
hold something impossible for the ward (``sources/plausibility.py``), are refused before anything
is computed: no snapshot, no pack; the improvement team gets one message and the stage waits.
Rows for wards outside the register are skipped with one line saying how many.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from wardprog.config import Settings
from wardprog.errors import InputFileError, NotFoundError, WardprogError
from wardprog.models import (
    DiagnosticSnapshot,
    EngagementEvent,
    EventStatus,
    Notification,
    Site,
    Ward,
    WardEnrolment,
    Wave,
)
from wardprog.notify.outbox import Attachment, enqueue
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG
from wardprog.reports.diagnostic_pack import (
    metrics_table,
    pack_markdown,
    render_pack,
    write_pack,
)
from wardprog.rules.metrics import (
    METRICS,
    METRICS_BY_KEY,
    latest_survey_year,
    staff_survey_scores,
    ward_month_metrics,
)
from wardprog.rules.spc import spc_frame
from wardprog.services.context import StageContext, StageOutcome
from wardprog.sources.extracts import Extracts, load_folder
from wardprog.sources.plausibility import fingerprint, summary_lines
from wardprog.sources.synthetic import generate_extracts

BASELINE_MONTHS = 36
# Signals older than this are history, not something to raise with staff now.
RECENT_MONTHS = 6
PACK_VERSION = 1
BASELINE = "baseline"
RECHECK_KINDS = {3: "recheck_3m", 6: "recheck_6m"}
logger = logging.getLogger(__name__)
RECHECK_KINDS_INV = {v: k for k, v in RECHECK_KINDS.items()}
VERDICTS = ("improvement", "concern", "mixed", "no_change")


class DiagnosticError(WardprogError):
    """The diagnostic pull or re-check cannot run; the message says what is missing."""


# -- periods ------------------------------------------------------------------------------------


def baseline_period(as_of: date, months: int = BASELINE_MONTHS) -> tuple[date, date]:
    """The ``months`` complete calendar months before ``as_of`` (the current month is partial)."""
    first_of_month = as_of.replace(day=1)
    start = first_of_month - relativedelta(months=months)
    end = first_of_month - relativedelta(days=1)
    return start, end


# -- loading ------------------------------------------------------------------------------------


def load_extracts(settings: Settings) -> Extracts:
    """The validated extracts folder (cached in-process by path and file mtimes)."""
    return load_folder(Path(settings.extracts_dir))


def check_extract_wards(session: Session, extracts: Extracts) -> str | None:
    """Rows for wards outside the register are skipped: one line saying how many, or None.

    A trust-wide extract holds every ward in the trust; only the programme's wards are read.
    """
    known = set(session.exec(select(Ward.code)).all())
    rows, codes = extracts.outside(known)
    if not rows:
        return None
    shown = ", ".join(codes[:5]) + (f" and {len(codes) - 5} more" if len(codes) > 5 else "")
    line = f"skipped {rows:,} extract rows for {len(codes)} ward(s) not in the register ({shown})"
    logger.info(line)
    return line


class ExtractsRefused(DiagnosticError):
    """A ward's extract data cannot be true; no pack is built from it until it is corrected."""

    def __init__(self, ward_code: str | None, lines: list[str]) -> None:
        self.ward_code = ward_code
        self.lines = lines
        whose = f"{ward_code}'s extract data" if ward_code else "the diagnostic extracts"
        super().__init__(
            f"{whose} refused ({len(lines)} problem line(s)):\n"
            + "\n".join(f"  - {line}" for line in lines)
        )


# Problems listed in a refusal message; `wardprog check-extracts` lists them all.
REFUSAL_LINES = 20


def refuse_impossible(settings: Settings, extracts: Extracts, ward_code: str, as_of: date) -> None:
    """Raise :class:`ExtractsRefused` if the ward's rows hold anything that cannot be true.

    Months "in the future" are judged against the later of ``as_of`` and today: a replay on a
    simulated clock reads extracts that run to the end of the replay.
    """
    findings = extracts.impossible_for(
        ward_code,
        as_of=max(as_of, date.today()),
        max_actual_to_planned=settings.extract_max_actual_to_planned,
    )
    if findings:
        raise ExtractsRefused(ward_code, summary_lines(findings, extracts.sources, REFUSAL_LINES))


def load_checked(session: Session, settings: Settings, ward_code: str, as_of: date) -> Extracts:
    """The extracts, with the ward's data checked for what cannot be true."""
    try:
        extracts = load_extracts(settings)
    except InputFileError as err:
        lines = [str(p) for p in err.problems[:REFUSAL_LINES]]
        for part in getattr(err, "files", [])[1:]:
            lines += [f"{Path(str(part.path)).name}, {p}" for p in part.problems[:5]]
        first = Path(str(err.path)).name
        raise ExtractsRefused(None, [f"{first}, {line}" for line in lines][:REFUSAL_LINES]) from err
    check_extract_wards(session, extracts)
    refuse_impossible(settings, extracts, ward_code, as_of)
    return extracts


# -- charts and signals -------------------------------------------------------------------------


def ward_charts(
    extracts: Extracts,
    ward_code: str,
    start: date,
    end: date,
    *,
    rebase: tuple[date, ...] = (),
    fix_after_n_points: int | None = None,
) -> pd.DataFrame:
    """Every metric's SPC chart for one ward (one row per metric-month)."""
    metrics = ward_month_metrics(extracts.for_wards([ward_code]).tables, start, end, gaps=True)
    return charts_for(metrics, rebase=rebase, fix_after_n_points=fix_after_n_points)


# Charting a whole wave's wards in one vectorised pass costs about what charting one ward does.
_WAVE_CHARTS_LOCK = threading.Lock()


def wave_ward_charts(
    extracts: Extracts,
    ward_code: str,
    wave_codes: Sequence[str],
    start: date,
    end: date,
) -> pd.DataFrame:
    """``ward_code``'s charts, computed with the rest of its wave's wards in one pass.

    The first ward of a wave to ask charts every ward of the wave over the same period (one
    ``ward_month_metrics`` and one SPC pass) and keeps them, grouped by ward, on the extracts'
    memo (one wave and period at a time); the others look theirs up. Only the wave's own rows are
    ever charted, so memory stays at one wave's worth whatever the size of the trust.
    """
    key = ("wave_charts", tuple(sorted(set(wave_codes) | {ward_code})), start, end)
    with _WAVE_CHARTS_LOCK:
        memo = extracts._memo.get("wave_charts")
        if memo is None or memo[0] != key:
            metrics = ward_month_metrics(extracts.for_wards(key[1]).tables, start, end, gaps=True)
            chart = charts_for(metrics)
            by_ward = {
                str(code): rows
                for code, rows in chart.groupby("ward_code", sort=False, observed=True)
            }
            memo = (key, by_ward, chart.iloc[0:0])
            extracts._memo["wave_charts"] = memo
    return memo[1].get(ward_code, memo[2])


def charts_for(
    metrics: pd.DataFrame,
    *,
    rebase: tuple[date, ...] = (),
    fix_after_n_points: int | None = None,
) -> pd.DataFrame:
    """SPC for a long ward-month metric frame (any number of wards) in one vectorised pass."""
    frame = metrics.assign(
        improvement=metrics["metric"].map({m.key: m.improvement for m in METRICS}),
        target=metrics["metric"].map({m.key: m.target for m in METRICS}).astype(float),
    )
    return spc_frame(
        frame,
        by=["ward_code", "metric"],
        date_col="month",
        improvement_col="improvement",
        target_col="target",
        rebase=rebase,
        fix_after_n_points=fix_after_n_points,
    )


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) else round(f, 4)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def metrics_json(chart: pd.DataFrame) -> dict[str, Any]:
    """JSON for a snapshot: per metric, its definition, current limits, icons and every point.

    ``chart`` holds one ward's charts (rows sorted by metric then month, as ``spc_frame`` returns
    them). Columns are converted to Python lists once: this runs for every ward in a wave.
    """
    if chart.empty:
        return {}
    cols = {
        "metric": chart["metric"].astype(str).tolist(),
        "month": chart["month"].dt.strftime("%Y-%m").tolist(),
        "value": [_num(v) for v in chart["value"].tolist()],
        "mean": [_num(v) for v in chart["mean"].tolist()],
        "lpl": [_num(v) for v in chart["lpl"].tolist()],
        "upl": [_num(v) for v in chart["upl"].tolist()],
        "rebase_group": chart["rebase_group"].astype(int).tolist(),
        "point_type": chart["point_type"].astype(str).tolist(),
        "rule": chart["special_cause_type"].astype(str).tolist(),
        "variation_icon": [_text(v) for v in chart["variation_icon"].tolist()],
        "assurance_icon": [_text(v) for v in chart["assurance_icon"].tolist()],
        "short": chart["short_group_warning"].astype(bool).tolist(),
    }
    rows_of: dict[str, list[int]] = {}
    for i, key in enumerate(cols["metric"]):
        rows_of.setdefault(key, []).append(i)
    point_keys = ("month", "value", "mean", "lpl", "upl", "rebase_group", "point_type", "rule")
    out: dict[str, Any] = {}
    for m in METRICS:
        idx = sorted(rows_of.get(m.key, []), key=lambda i: cols["month"][i])
        if not idx:
            continue
        last = idx[-1]
        out[m.key] = {
            "label": m.label,
            "unit": m.unit,
            "improvement": m.improvement,
            "target": m.target,
            "decimals": m.decimals,
            "mean": cols["mean"][last],
            "lpl": cols["lpl"][last],
            "upl": cols["upl"][last],
            "variation_icon": cols["variation_icon"][last],
            "assurance_icon": cols["assurance_icon"][last],
            "short_group_warning": cols["short"][last],
            "latest": {"month": cols["month"][last], "value": cols["value"][last]},
            "points": [{k: cols[k][i] for k in point_keys} for i in idx],
        }
    return out


_KIND = {
    "special_cause_concern": "concern",
    "special_cause_improvement": "improvement",
    "special_cause_neutral_high": "neutral",
    "special_cause_neutral_low": "neutral",
}
_RULE_TEXT = {
    "Above UCL": "a point above the upper limit",
    "Below LCL": "a point below the lower limit",
    "7 Point Trend (Increasing)": "a run of 7 rising points",
    "7 Point Trend (Decreasing)": "a run of 7 falling points",
    "2 in 3 Above CL": "2 of 3 points close to the upper limit",
    "2 in 3 Below CL": "2 of 3 points close to the lower limit",
    "7 Points Above CL": "7 or more points in a row above the mean",
    "7 Points Below CL": "7 or more points in a row below the mean",
}


def find_signals(
    metrics: dict[str, Any], recent_months: int = RECENT_MONTHS
) -> list[dict[str, Any]]:
    """What to raise at the engagement event: recent special causes and missed targets.

    Concerns come first: they are what staff will want to talk about.
    """
    signals: list[dict[str, Any]] = []
    for key, m in metrics.items():
        points = m["points"]
        recent = points[-recent_months:]
        special = [p for p in recent if p["point_type"] != "common_cause"]
        base = {
            "metric": key,
            "label": m["label"],
            "decimals": m["decimals"],
            "mean": m["mean"],
            "lpl": m["lpl"],
            "upl": m["upl"],
        }
        if special:
            p = special[-1]
            kind = _KIND[p["point_type"]]
            what = {"concern": "Concern", "improvement": "Improvement", "neutral": "Change"}[kind]
            signals.append(
                base
                | {
                    "kind": kind,
                    "point_type": p["point_type"],
                    "rule": p["rule"],
                    "month": p["month"],
                    "value": p["value"],
                    "points": len(special),
                    "description": f"{what}: {_RULE_TEXT.get(p['rule'], p['rule'])} "
                    f"({len(special)} of the last {len(recent)} months flagged, "
                    f"latest {p['month']})",
                }
            )
        if m.get("assurance_icon") == "consistent_fail":
            latest = m["latest"]
            signals.append(
                base
                | {
                    "kind": "concern",
                    "point_type": None,
                    "rule": "consistent_fail",
                    "month": latest["month"],
                    "value": latest["value"],
                    "points": 0,
                    "description": f"The target of {m['target']:g} will be consistently missed "
                    "unless the process changes (the target is outside the process limits)",
                }
            )
    order = {"concern": 0, "neutral": 1, "improvement": 2}
    signals.sort(key=lambda s: order[s["kind"]])
    return signals


def staff_survey_json(
    extracts: Extracts, ward_code: str, as_of: date, settings: Settings
) -> dict[str, Any]:
    responses = extracts["staff_survey"]
    year = latest_survey_year(responses, as_of)
    base: dict[str, Any] = {
        "survey_year": None,
        "min_respondents": settings.staff_survey_min_respondents,
        "respondents": 0,
        "suppressed": False,
        "themes": [],
    }
    if year is None:
        return base
    ward_rows = extracts.for_wards([ward_code])["staff_survey"]  # indexed, not a full scan
    scores = staff_survey_scores(
        ward_rows, min_respondents=settings.staff_survey_min_respondents, survey_year=year
    )
    base["survey_year"] = year
    if scores.empty:
        base["suppressed"] = True  # nobody from this ward answered: nothing to report
        return base
    base["respondents"] = int(scores["respondents"].iloc[0])
    base["suppressed"] = bool(scores["suppressed"].iloc[0])
    base["themes"] = [
        {"theme": r.theme, "label": r.label, "score": _num(r.score)}
        for r in scores.itertuples(index=False)
    ]
    return base


# -- the stage ----------------------------------------------------------------------------------


def _pack_context(
    ward: Ward, site: Site, wave_number: int | None, snap: DiagnosticSnapshot
) -> dict[str, Any]:
    return {
        "ward": {"code": ward.code, "name": ward.name, "manager_name": ward.manager_name},
        "site": {"code": site.code, "name": site.name},
        "wave_number": wave_number,
        "pack_path": snap.pack_path,
        "snapshot": {
            "id": snap.id,
            "kind": snap.kind,
            "as_of": snap.as_of.isoformat(),
            "period_start": snap.period_start.isoformat() if snap.period_start else "",
            "period_end": snap.period_end.isoformat() if snap.period_end else "",
            "metrics": snap.metrics.get("metrics", {}),
            "sources": snap.metrics.get("sources", {}),
            "recent_months": RECENT_MONTHS,
            "signals": snap.signals,
            "staff_survey": snap.staff_survey,
        },
    }


def pack_path_for(settings: Settings, ward_code: str) -> Path:
    return Path(settings.output_dir) / "packs" / f"{ward_code}.html"


def _wave_codes(session: Session, wave_id: int) -> list[str]:
    return list(
        session.exec(
            select(Ward.code).where(
                Ward.id == WardEnrolment.ward_id, WardEnrolment.wave_id == wave_id
            )
        ).all()
    )


def pull_snapshot(
    session: Session,
    settings: Settings,
    *,
    ward: Ward,
    wave_id: int | None,
    kind: str,
    as_of: date,
    start: date,
    end: date,
    rebase: tuple[date, ...] = (),
) -> tuple[DiagnosticSnapshot, pd.DataFrame]:
    """Load, validate, chart and add a snapshot (flushed, not committed) for one ward."""
    extracts = load_checked(session, settings, ward.code, as_of)
    if wave_id is not None and not rebase:
        chart = wave_ward_charts(extracts, ward.code, _wave_codes(session, wave_id), start, end)
    else:
        chart = ward_charts(extracts, ward.code, start, end, rebase=rebase)
    metrics = metrics_json(chart)
    snap = DiagnosticSnapshot(
        ward_id=ward.id,  # type: ignore[arg-type]
        wave_id=wave_id,
        kind=kind,
        as_of=as_of,
        period_start=start,
        period_end=end,
        metrics={"metrics": metrics, "sources": extracts.sources},
        signals=find_signals(metrics),
        staff_survey=staff_survey_json(extracts, ward.code, as_of, settings),
    )
    session.add(snap)
    session.flush()
    return snap, chart


def run_diagnostic_stage(ctx: StageContext) -> StageOutcome:
    """Baseline pull for ``ctx.ward``: snapshot, HTML pack, and a note to the ward manager.

    Idempotent per ward and wave: a second call (whatever its ``as_of``) returns the existing
    baseline and enqueues nothing new.
    """
    ward, wave = ctx.ward, ctx.wave
    existing = ctx.session.exec(
        select(DiagnosticSnapshot).where(
            DiagnosticSnapshot.ward_id == ward.id,
            DiagnosticSnapshot.wave_id == wave.id,
            DiagnosticSnapshot.kind == BASELINE,
        )
    ).first()
    if existing is not None:
        return StageOutcome(
            done=True,
            summary=f"{ward.code}: diagnostic pack already produced ({len(existing.signals)} "
            "signals)",
            details={
                "signals": len(existing.signals),
                "snapshot_id": existing.id,
                "pack_path": existing.pack_path,
            },
        )

    start, end = baseline_period(ctx.as_of)
    try:
        snap, _chart = pull_snapshot(
            ctx.session,
            ctx.settings,
            ward=ward,
            wave_id=wave.id,
            kind=BASELINE,
            as_of=ctx.as_of,
            start=start,
            end=end,
        )
    except ExtractsRefused as refused:
        return _wait_for_extracts(ctx, refused)
    path = pack_path_for(ctx.settings, ward.code)
    snap.pack_path = str(path)
    context = _pack_context(ward, ctx.site, wave.number, snap)
    html = render_pack(context)
    write_pack(path, html)
    ctx.session.add(snap)
    ctx.session.flush()

    enqueue(
        ctx.session,
        key=f"diagnostic_pack_ready:{ward.code}:wave-{wave.number}:v{PACK_VERSION}",
        kind="diagnostic_pack_ready",
        tags=[ward.code],
        ward_code=ward.code,
        recipients=[ward.manager_email] if ward.manager_email else [],
        context={
            "ward_code": ward.code,
            "ward_name": ward.name,
            "manager_name": ward.manager_name,
            "site_name": ctx.site.name,
            "wave_number": wave.number,
            "period_start": start.strftime("%B %Y"),
            "period_end": end.strftime("%B %Y"),
            "signals": snap.signals,
            "signal_count": len(snap.signals),
            "pack_path": str(path),
        },
        attachments=[
            Attachment(
                filename=f"diagnostic-pack-{ward.code}.html",
                content=html.encode("utf-8"),
                content_type="text/html",
            )
        ],
    )
    n = len(snap.signals)
    return StageOutcome(
        done=True,
        summary=f"{ward.code}: diagnostic pack ready with {n} signal{'s' if n != 1 else ''}",
        details={"signals": n, "snapshot_id": snap.id, "pack_path": str(path)},
    )


def tell_team_refused(
    session: Session, settings: Settings, ward: Ward, refused: ExtractsRefused
) -> None:
    """One message to the improvement team per distinct set of problems.

    Unreadable extracts affect every ward alike: one message, not one per ward.
    """
    scope = ward.code if refused.ward_code else "all-wards"
    enqueue(
        session,
        key=f"extract_refused:{scope}:{fingerprint(refused.lines)}",
        kind="extract_refused",
        tags=[IMPROVEMENT_TEAM_TAG],
        ward_code=ward.code if refused.ward_code else None,
        context={
            "ward_code": refused.ward_code,
            "ward_name": ward.name,
            "count": len(refused.lines),
            "problems": refused.lines,
            "extracts_dir": str(settings.extracts_dir),
        },
    )
    logger.warning("%s: diagnostic data refused (%d problems)", ward.code, len(refused.lines))


def _wait_for_extracts(ctx: StageContext, refused: ExtractsRefused) -> StageOutcome:
    """Tell the team and wait for corrected extracts; nothing else is written."""
    tell_team_refused(ctx.session, ctx.settings, ctx.ward, refused)
    return StageOutcome(
        done=False,
        summary=f"{ctx.ward.code}: extract data refused ({len(refused.lines)} problems); "
        "waiting for corrected extracts",
        details={"refused": refused.lines},
    )


# -- publishing ---------------------------------------------------------------------------------


@dataclass
class PackSummary:
    ward_code: str
    markdown: str
    table: list[dict[str, Any]] = field(default_factory=list)


def pack_summary(session: Session, ward_code: str, snapshot_id: int) -> PackSummary:
    """Markdown and table of a stored snapshot (for Prefect artifacts), no extract reads."""
    ward = session.exec(select(Ward).where(Ward.code == ward_code)).first()
    snap = session.get(DiagnosticSnapshot, snapshot_id)
    if ward is None:
        raise NotFoundError(f"no ward with code {ward_code!r} in the register")
    if snap is None or snap.ward_id != ward.id:
        raise NotFoundError(f"no diagnostic snapshot {snapshot_id} for ward {ward_code}")
    site = session.get(Site, ward.site_id)
    if site is None:
        raise NotFoundError(f"ward {ward_code} points at a site that does not exist")
    wave = session.get(Wave, snap.wave_id) if snap.wave_id else None
    context = _pack_context(ward, site, wave.number if wave else None, snap)
    return PackSummary(
        ward_code=ward.code,
        markdown=pack_markdown(context),
        table=metrics_table(context["snapshot"]),
    )


# -- re-check -----------------------------------------------------------------------------------


@dataclass
class MetricChange:
    metric: str
    label: str
    verdict: str  # improvement | concern | mixed | no_change
    before_mean: float | None
    after_mean: float | None
    after_points: int
    detail: str


@dataclass
class RecheckResult:
    ward_code: str
    kind: str | None
    as_of: date
    event_date: date | None
    snapshot_id: int | None
    created: bool
    changes: list[MetricChange] = field(default_factory=list)
    message: str = ""

    @property
    def improvements(self) -> list[MetricChange]:
        return [c for c in self.changes if c.verdict == "improvement"]

    @property
    def concerns(self) -> list[MetricChange]:
        return [c for c in self.changes if c.verdict == "concern"]

    def markdown(self) -> str:
        title = f"# Re-check {self.kind or ''}: {self.ward_code}".rstrip()
        lines = [title, "", self.message, ""]
        if self.changes:
            lines += [
                "| Metric | Verdict | Mean before | Mean after | Detail |",
                "|---|---|---|---|---|",
            ]
            for c in sorted(self.changes, key=lambda c: (c.verdict == "no_change", c.verdict)):
                before = "-" if c.before_mean is None else f"{c.before_mean:,.2f}"
                after = "-" if c.after_mean is None else f"{c.after_mean:,.2f}"
                lines.append(
                    f"| {c.label} | {c.verdict.replace('_', ' ')} | {before} | {after} | "
                    f"{c.detail} |"
                )
        return "\n".join(lines) + "\n"


def engagement_date(session: Session, ward: Ward, enrolment: WardEnrolment | None) -> date | None:
    """When the ward's engagement event happened (or, without an event row, when it was logged)."""
    event = session.exec(
        select(EngagementEvent)
        .where(EngagementEvent.ward_id == ward.id, EngagementEvent.status != EventStatus.cancelled)
        .order_by(col(EngagementEvent.starts_at).desc())
    ).first()
    when: datetime | None = None
    if event is not None and event.held_on is not None:
        return event.held_on  # recorded as held: the day it really took place
    if event is not None and event.starts_at is not None:
        when = event.starts_at
    elif enrolment is not None and enrolment.engagement_at is not None:
        when = enrolment.engagement_at
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(ZoneInfo("Europe/London"))
    return when.date()


def recheck_kind(event_day: date, as_of: date) -> str | None:
    """``recheck_6m`` from six months after the event, ``recheck_3m`` from three, else None."""
    for months in sorted(RECHECK_KINDS, reverse=True):
        if as_of >= event_day + relativedelta(months=months):
            return RECHECK_KINDS[months]
    return None


def _verdicts(before_after: pd.DataFrame, event_month: pd.Timestamp) -> list[MetricChange]:
    """Judge post-event months against limits fixed on the pre-event baseline."""
    changes = []
    for key, rows in before_after.groupby("metric", sort=False):
        m = METRICS_BY_KEY[str(key)]
        before = rows.loc[rows["month"] < event_month]
        after = rows.loc[rows["month"] >= event_month]
        if after.empty or before.empty:
            continue
        types = set(after["point_type"].astype(str))
        worse = "special_cause_concern" in types
        better = "special_cause_improvement" in types
        if worse and better:
            verdict = "mixed"  # e.g. a spike then a fall: staff's account matters more here
        elif worse:
            verdict = "concern"
        elif better:
            verdict = "improvement"
        else:
            verdict = "no_change"
        flagged = after.loc[after["special_cause"], "special_cause_type"].tolist()
        detail = (
            ", ".join(sorted({_RULE_TEXT.get(f, f) for f in flagged}))
            if flagged
            else "within the baseline's limits"
        )
        changes.append(
            MetricChange(
                metric=m.key,
                label=m.label,
                verdict=verdict,
                before_mean=_num(before["value"].mean()),
                after_mean=_num(after["value"].mean()),
                after_points=len(after),
                detail=detail,
            )
        )
    return changes


def run_recheck(session: Session, settings: Settings, ward_code: str, as_of: date) -> RecheckResult:
    """Re-pull a ward 3 or 6 months after its engagement event and judge the change.

    The stored chart is rebased at the event month (new limits for the new process); the verdict
    compares the post-event months with limits fixed on the pre-event baseline, the Making Data
    Count way of asking "is this different from before?". Idempotent per ward, wave and kind.
    """
    ward = session.exec(select(Ward).where(Ward.code == ward_code)).first()
    if ward is None:
        raise NotFoundError(f"no ward with code {ward_code!r} in the register")
    enrolment = session.exec(select(WardEnrolment).where(WardEnrolment.ward_id == ward.id)).first()
    event_day = engagement_date(session, ward, enrolment)
    if event_day is None:
        raise DiagnosticError(
            f"{ward_code} has no engagement event yet: a re-check measures change after the event"
        )
    kind = recheck_kind(event_day, as_of)
    if kind is None:
        return RecheckResult(
            ward_code,
            None,
            as_of,
            event_day,
            None,
            False,
            message=f"Not due: the first re-check is 3 months after the event on {event_day}.",
        )
    wave_id = enrolment.wave_id if enrolment else None
    # The month the event falls in is part before, part after: the new process is measured from
    # the first whole month after the event (or the event's own month if it was on the 1st).
    rebase_at = (
        (event_day.replace(day=1) + relativedelta(months=1)) if event_day.day > 1 else event_day
    )
    event_month = pd.Timestamp(rebase_at)
    start = baseline_period(event_day)[0]
    end = as_of.replace(day=1) - relativedelta(days=1)

    existing = session.exec(
        select(DiagnosticSnapshot).where(
            DiagnosticSnapshot.ward_id == ward.id,
            DiagnosticSnapshot.wave_id == wave_id,
            DiagnosticSnapshot.kind == kind,
        )
    ).first()
    try:
        extracts = load_checked(session, settings, ward.code, as_of)
    except ExtractsRefused as refused:
        # The re-check stays due: it runs on the next day's pass once the data is corrected.
        tell_team_refused(session, settings, ward, refused)
        return RecheckResult(
            ward_code, None, as_of, event_day, None, False, message=str(refused).splitlines()[0]
        )
    metrics = ward_month_metrics(extracts.for_wards([ward.code]).tables, start, end, gaps=True)
    fixed = fixed_limit_charts(metrics, event_month) if not metrics.empty else metrics
    changes = _verdicts(fixed, event_month) if not metrics.empty else []

    created = False
    if existing is None:
        chart = charts_for(metrics, rebase=(rebase_at,)) if not metrics.empty else metrics
        mj = metrics_json(chart) if not metrics.empty else {}
        existing = DiagnosticSnapshot(
            ward_id=ward.id,  # type: ignore[arg-type]
            wave_id=wave_id,
            kind=kind,
            as_of=as_of,
            period_start=start,
            period_end=end,
            metrics={
                "metrics": mj,
                "sources": extracts.sources,
                "event_date": event_day.isoformat(),
                "rebased_at": rebase_at.isoformat(),
                "changes": [c.__dict__ for c in changes],
            },
            signals=find_signals(mj),
            staff_survey=staff_survey_json(extracts, ward.code, as_of, settings),
        )
        session.add(existing)
        session.flush()
        created = True
    tally = {v: sum(c.verdict == v for c in changes) for v in VERDICTS}
    message = (
        f"{RECHECK_KINDS_INV[kind]}-month re-check of {ward.code} after the engagement event on "
        f"{event_day}: {tally['improvement']} metric(s) improved, {tally['concern']} of concern, "
        f"{tally['mixed']} mixed, {tally['no_change']} unchanged (judged against the pre-event "
        "limits)."
    )
    result = RecheckResult(
        ward.code, kind, as_of, event_day, existing.id, created, changes, message
    )
    _send_verdict(session, ward, wave_id, result)
    return result


def _send_verdict(
    session: Session, ward: Ward, wave_id: int | None, result: RecheckResult
) -> Notification:
    """The re-check's verdict to the ward manager and the improvement team, once per re-check."""
    site = session.get(Site, ward.site_id)
    wave = session.get(Wave, wave_id) if wave_id is not None else None
    months = RECHECK_KINDS_INV.get(result.kind or "", 0)
    return enqueue(
        session,
        key=f"recheck_verdict:{ward.code}:wave-{wave.number if wave else 0}:{result.kind}",
        kind="recheck_verdict",
        tags=[ward.code, *([site.code] if site else []), "improvement-team"],
        context={
            "ward_name": ward.name,
            "manager_name": ward.manager_name or "Ward manager",
            "months": months,
            "event_date": result.event_date,
            "improvements": [c.__dict__ for c in result.improvements],
            "concerns": [c.__dict__ for c in result.concerns],
            "mixed": [c.__dict__ for c in result.changes if c.verdict == "mixed"],
            "unchanged": sum(c.verdict == "no_change" for c in result.changes),
        },
        ward_code=ward.code,
        recipients=[ward.manager_email] if ward.manager_email else [],
    )


def latest_rechecks(session: Session) -> list[dict[str, Any]]:
    """Each ward's latest re-check verdicts (for the dashboard), by ward code."""
    rows = session.exec(
        select(DiagnosticSnapshot, Ward)
        .where(DiagnosticSnapshot.ward_id == Ward.id)
        .where(col(DiagnosticSnapshot.kind).in_(list(RECHECK_KINDS.values())))
        .order_by(col(Ward.code), col(DiagnosticSnapshot.as_of), col(DiagnosticSnapshot.id))
    ).all()
    latest: dict[str, dict[str, Any]] = {}
    for snap, ward in rows:
        changes = snap.metrics.get("changes", []) if isinstance(snap.metrics, dict) else []
        latest[ward.code] = {
            "ward_code": ward.code,
            "ward_name": ward.name,
            "kind": snap.kind,
            "as_of": snap.as_of.isoformat() if snap.as_of else None,
            "event_date": snap.metrics.get("event_date")
            if isinstance(snap.metrics, dict)
            else None,
            "improved": [c["label"] for c in changes if c.get("verdict") == "improvement"],
            "concerns": [c["label"] for c in changes if c.get("verdict") == "concern"],
            "mixed": [c["label"] for c in changes if c.get("verdict") == "mixed"],
        }
    return [latest[k] for k in sorted(latest)]


def fixed_limit_charts(metrics: pd.DataFrame, event_month: pd.Timestamp) -> pd.DataFrame:
    """Each metric charted with its limits fixed on its own points before ``event_month``.

    ``fix_after_n_points`` is per series, so series are charted in one pass per distinct count
    (nearly always one: every metric has the same months before the event), not one per metric;
    rows come back in the order charting each metric on its own gives.
    """
    n_before = metrics.loc[metrics["month"] < event_month].groupby("metric").size()
    order = list(dict.fromkeys(metrics["metric"]))
    count_of = {key: int(n_before.get(key, 0)) for key in order}
    parts = [
        charts_for(
            metrics.loc[metrics["metric"].isin([k for k in order if count_of[k] == n])],
            fix_after_n_points=n or None,
        )
        for n in dict.fromkeys(count_of.values())
    ]
    chart = pd.concat(parts, ignore_index=True)
    rank = chart["metric"].map({key: i for i, key in enumerate(order)})
    return chart.iloc[rank.argsort(kind="stable")].reset_index(drop=True)


def due_rechecks(session: Session, as_of: date) -> list[str]:
    """Ward codes whose 3- or 6-month re-check is due by ``as_of`` and not yet recorded."""
    due: list[str] = []
    rows = session.exec(
        select(WardEnrolment, Ward).where(WardEnrolment.ward_id == Ward.id).order_by(Ward.code)
    ).all()
    for enrolment, ward in rows:
        event_day = engagement_date(session, ward, enrolment)
        kind = recheck_kind(event_day, as_of) if event_day else None
        if kind is None:
            continue
        done = session.exec(
            select(DiagnosticSnapshot.id).where(
                DiagnosticSnapshot.ward_id == ward.id,
                DiagnosticSnapshot.wave_id == enrolment.wave_id,
                DiagnosticSnapshot.kind == kind,
            )
        ).first()
        if done is None:
            due.append(ward.code)
    return due


# -- demo data ----------------------------------------------------------------------------------


def generate_register_extracts(
    session: Session, out_dir: Path, start: date, end: date, seed: int = 7
) -> list[Path]:
    """Synthetic extracts for every ward in the register (the demo's helper, no CLI needed)."""
    rows = session.exec(select(Ward.code, Site.code, Ward.beds).join(Site)).all()
    if not rows:
        raise DiagnosticError("the ward register is empty: load wards before generating extracts")
    return generate_extracts([(w, s, b) for w, s, b in rows], out_dir, start, end, seed)
