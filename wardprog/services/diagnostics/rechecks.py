"""Diagnostic re-checks, 3 and 6 months after the engagement event: each metric vs its baseline.

The baseline's SPC limits are fixed and the months since are read against them, so a verdict
(improvement, concern, mixed, no change) says whether the ward moved, not whether it is noisy.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session, col, select

from wardprog.config import IMPROVEMENT_TEAM_TAG, LONDON, Settings
from wardprog.errors import InputFileError
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
from wardprog.notify.outbox import enqueue
from wardprog.rules.metrics import ward_month_metrics
from wardprog.rules.rechecks import (
    RECHECK_KINDS,
    RECHECK_MONTHS,
    VERDICTS,
    MetricChange,
    recheck_kind,
    recheck_period,
    verdicts,
)
from wardprog.services.context import require_id, ward_by_code, ward_enrolment
from wardprog.services.diagnostics.charts import charts_for, metrics_json
from wardprog.services.diagnostics.extracts import (
    DiagnosticError,
    ExtractsRefused,
    load_checked,
    load_extracts,
    refuse_impossible,
)
from wardprog.services.diagnostics.stage import add_snapshot, tell_team_refused
from wardprog.sources.extracts import Extracts


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
    return _event_day(event, enrolment)


def _event_day(event: EngagementEvent | None, enrolment: WardEnrolment | None) -> date | None:
    """The day of ``event`` (the ward's latest non-cancelled one), else of the enrolment's note."""
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
        when = when.astimezone(LONDON)
    return when.date()


def _enrolled_event_days(
    session: Session, ward_codes: Sequence[str] | None = None
) -> list[tuple[WardEnrolment, Ward, date | None]]:
    """Each enrolment (of ``ward_codes``, or every one) with its ward's event day, by ward code.

    Two queries whatever the number of wards: the enrolments, then every non-cancelled event of
    those wards (latest first per ward, the order :func:`engagement_date` reads them in).
    """
    query = select(WardEnrolment, Ward).where(WardEnrolment.ward_id == Ward.id)
    if ward_codes is not None:
        query = query.where(col(Ward.code).in_(list(ward_codes)))
    rows = session.exec(query.order_by(Ward.code)).all()
    if not rows:
        return []
    events = select(EngagementEvent).where(EngagementEvent.status != EventStatus.cancelled)
    if ward_codes is not None:
        events = events.where(col(EngagementEvent.ward_id).in_([w.id for _, w in rows]))
    latest: dict[int, EngagementEvent] = {}
    for event in session.exec(
        events.order_by(col(EngagementEvent.ward_id), col(EngagementEvent.starts_at).desc())
    ).all():
        latest.setdefault(event.ward_id, event)
    return [(e, w, _event_day(latest.get(require_id(w)), e)) for e, w in rows]


def run_recheck(
    session: Session,
    settings: Settings,
    ward_code: str,
    as_of: date,
    batch: Sequence[str] = (),
) -> RecheckResult:
    """Re-pull a ward 3 or 6 months after its engagement event and judge the change.

    The stored chart is rebased at the event month (new limits for the new process); the verdict
    compares the post-event months with limits fixed on the pre-event baseline, the Making Data
    Count way of asking "is this different from before?". Idempotent per ward, wave and kind.

    Only the ward's own extract rows are read, or with ``batch`` (the day's due wards) the
    batch's: read once for the batch (the folder cache is keyed by ward set), and the batch's
    wards re-checked over the same period are charted together in one pass (see
    :func:`_batch_charts`). Each ward's verdict is the one it gets re-checked on its own.
    """
    ward = ward_by_code(session, ward_code)
    enrolment = ward_enrolment(session, ward)
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
    start, end, rebase_at = period = recheck_period(event_day, as_of)
    event_month = pd.Timestamp(rebase_at)

    existing = session.exec(
        select(DiagnosticSnapshot).where(
            DiagnosticSnapshot.ward_id == ward.id,
            DiagnosticSnapshot.wave_id == wave_id,
            DiagnosticSnapshot.kind == kind,
        )
    ).first()
    wards = sorted({*batch, ward.code})
    try:
        extracts = load_checked(session, settings, ward.code, as_of, wards=wards)
    except ExtractsRefused as refused:
        # The re-check stays due: it runs on the next day's pass once the data is corrected.
        tell_team_refused(session, settings, ward, refused)
        return RecheckResult(
            ward_code, None, as_of, event_day, None, False, message=str(refused).splitlines()[0]
        )
    rebased: pd.DataFrame | None = None
    if len(wards) > 1:
        metrics, fixed, rebased = _batch_charts(session, extracts, ward.code, period, wards, as_of)
    else:
        metrics = ward_month_metrics(extracts.for_wards([ward.code]).tables, start, end, gaps=True)
        fixed = fixed_limit_charts(metrics, event_month) if not metrics.empty else metrics
    changes = verdicts(fixed, event_month) if not metrics.empty else []

    created = False
    if existing is None:
        if rebased is None:
            rebased = charts_for(metrics, rebase=(rebase_at,)) if not metrics.empty else metrics
        chart = rebased
        existing = add_snapshot(
            session,
            settings,
            ward=ward,
            wave_id=wave_id,
            kind=kind,
            as_of=as_of,
            period=(start, end),
            extracts=extracts,
            metrics=metrics_json(chart) if not metrics.empty else {},
            # With a batch, the batch's survey scores are computed in one pass (per ward, so
            # each ward's are its own).
            survey_wards=wards if len(wards) > 1 else (),
            extra={
                "event_date": event_day.isoformat(),
                "rebased_at": rebase_at.isoformat(),
                "changes": [c.__dict__ for c in changes],
            },
        )
        created = True
    tally = {v: sum(c.verdict == v for c in changes) for v in VERDICTS}
    message = (
        f"{RECHECK_MONTHS[kind]}-month re-check of {ward.code} after the engagement event on "
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
    months = RECHECK_MONTHS.get(result.kind or "", 0)
    return enqueue(
        session,
        key=f"recheck_verdict:{ward.code}:wave-{wave.number if wave else 0}:{result.kind}",
        kind="recheck_verdict",
        tags=[ward.code, *([site.code] if site else []), IMPROVEMENT_TEAM_TAG],
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


def latest_rechecks(session: Session, as_of: date | None = None) -> list[dict[str, Any]]:
    """Each ward's latest re-check verdicts (for the dashboard), by ward code.

    With ``as_of``: the latest re-check taken by that day.
    """
    query = (
        select(DiagnosticSnapshot, Ward)
        .where(DiagnosticSnapshot.ward_id == Ward.id)
        .where(col(DiagnosticSnapshot.kind).in_(list(RECHECK_KINDS.values())))
    )
    if as_of is not None:
        query = query.where(col(DiagnosticSnapshot.as_of) <= as_of)
    rows = session.exec(
        query.order_by(col(Ward.code), col(DiagnosticSnapshot.as_of), col(DiagnosticSnapshot.id))
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


def prepare_rechecks(
    session: Session, settings: Settings, wards: Sequence[str], as_of: date
) -> None:
    """Read and chart the day's due wards once, before their re-checks run (``batch=wards``).

    Only warms what :func:`run_recheck` with that batch would compute first anyway (the batch's
    extract rows, its impossible-data check, each period's charts), so the ward tasks that run
    next on their threads look theirs up instead of waiting on one another. Nothing is written;
    a refused or unreadable extract is left for each ward's re-check to report.
    """
    codes = sorted(set(wards))
    if len(codes) < 2:
        return
    try:
        extracts = load_extracts(settings, codes)
    except InputFileError:
        return  # unreadable: every ward's re-check reports it
    # A refusal is that ward's re-check's to report; the check is memoised for the batch.
    with contextlib.suppress(ExtractsRefused):
        refuse_impossible(settings, extracts, codes[0], as_of)
    for _, ward, day in _enrolled_event_days(session, codes):
        if day is not None and recheck_kind(day, as_of) is not None:
            _batch_charts(session, extracts, ward.code, recheck_period(day, as_of), codes, as_of)


_Charts = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
# One batch's charting at a time (the threads of a day's re-checks share one Extracts).
_BATCH_LOCK = threading.Lock()


def _batch_charts(
    session: Session,
    extracts: Extracts,
    ward_code: str,
    period: tuple[date, date, date],
    wards: Sequence[str],
    as_of: date,
) -> _Charts:
    """(metrics, fixed-limit charts, rebased charts) of ``ward_code``, whose re-check covers
    ``period``, computed in one pass with the batch's other wards re-checked over that period.

    Wards whose events fall in the same month share a period (baseline start, end, rebase
    month); each such group is charted once: one ``ward_month_metrics``, one SPC pass per
    distinct count of baseline points, one rebased SPC pass. SPC is per ward-metric series and
    the metrics per ward-month, so each ward's rows are what charting it alone gives. The
    batch's event days are read once (two queries). Kept on the extracts' memo for one day and
    batch at a time, so memory is one day's due wards whatever the size of the trust.
    """
    batch_key = (as_of, tuple(wards))
    with _BATCH_LOCK:
        memo = extracts._memo.get("rechecks")
        if memo is None or memo[0] != batch_key:
            days = {w.code: day for _, w, day in _enrolled_event_days(session, wards)}
            fresh: dict[tuple[str, tuple[date, date, date]], _Charts] = {}
            memo = (batch_key, days, fresh)
            extracts._memo["rechecks"] = memo
        _, days, charts = memo
        if (ward_code, period) not in charts:
            group = {ward_code} | {
                code
                for code, day in days.items()
                if day is not None
                and recheck_kind(day, as_of) is not None
                and recheck_period(day, as_of) == period
            }
            for code, found in _chart_group(extracts, sorted(group), *period).items():
                charts[(code, period)] = found
        result: _Charts = charts[(ward_code, period)]
    return result


def _chart_group(
    extracts: Extracts, group: Sequence[str], start: date, end: date, rebase_at: date
) -> dict[str, _Charts]:
    """:func:`_batch_charts` for one period: every ward of ``group`` charted in one pass."""
    metrics = ward_month_metrics(extracts.for_wards(group).tables, start, end, gaps=True)
    if metrics.empty:
        return {code: (metrics, metrics, metrics) for code in group}
    frames = (
        metrics,
        fixed_limit_charts(metrics, pd.Timestamp(rebase_at)),
        charts_for(metrics, rebase=(rebase_at,)),
    )
    # Each frame is sorted by ward first (fixed_limit_charts keeps first-appearance order), so
    # a ward's slice is in the order charting it alone gives.
    split = [
        {
            str(c): rows.reset_index(drop=True)
            for c, rows in f.groupby("ward_code", sort=False, observed=True)
        }
        for f in frames
    ]
    empty = metrics.iloc[0:0]
    return {
        code: (
            (split[0][code], split[1][code], split[2][code])
            if code in split[0]
            else (empty, empty, empty)
        )
        for code in group
    }


def fixed_limit_charts(metrics: pd.DataFrame, event_month: pd.Timestamp) -> pd.DataFrame:
    """Each series charted with its limits fixed on its own points before ``event_month``.

    A series is one ward's metric (``metrics`` may hold several wards).
    ``fix_after_n_points`` is per series, so series are charted in one pass per distinct count
    (nearly always one: every metric has the same months before the event), not one per metric;
    rows come back in the order charting each metric on its own gives.
    """
    series = ["ward_code", "metric"]
    n_before = metrics.loc[metrics["month"] < event_month].groupby(series, observed=True).size()
    count_of = {
        key: int(n_before.get(key, 0))
        for key in dict.fromkeys(zip(metrics["ward_code"], metrics["metric"], strict=True))
    }
    keys = pd.MultiIndex.from_frame(metrics[series])
    counts = np.array([count_of[k] for k in keys])
    parts = [
        charts_for(metrics.loc[counts == n], fix_after_n_points=n or None)
        for n in dict.fromkeys(count_of.values())
    ]
    chart = pd.concat(parts, ignore_index=True)
    # Wards in the order they come; within a ward, metrics in their categories' order (the
    # order ward_month_metrics declares them), else in the order they come.
    ward_rank = chart["ward_code"].map(
        {code: i for i, code in enumerate(dict.fromkeys(metrics["ward_code"]))}
    )
    if isinstance(chart["metric"].dtype, pd.CategoricalDtype):
        metric_rank = chart["metric"].cat.codes.to_numpy()
    else:
        first = {key: i for i, key in enumerate(dict.fromkeys(metrics["metric"]))}
        metric_rank = chart["metric"].map(first).to_numpy()
    # lexsort is stable: rows of one series keep their (month) order.
    return chart.iloc[np.lexsort((metric_rank, ward_rank.to_numpy()))].reset_index(drop=True)


def due_rechecks(session: Session, as_of: date) -> list[str]:
    """Ward codes whose 3- or 6-month re-check is due by ``as_of`` and not yet recorded.

    Three queries in all (enrolments, events, re-check snapshots), not two per enrolled ward.
    """
    done = {
        (ward_id, wave_id, kind)
        for ward_id, wave_id, kind in session.exec(
            select(
                DiagnosticSnapshot.ward_id, DiagnosticSnapshot.wave_id, DiagnosticSnapshot.kind
            ).where(col(DiagnosticSnapshot.kind).in_(list(RECHECK_KINDS.values())))
        ).all()
    }
    due: list[str] = []
    for enrolment, ward, event_day in _enrolled_event_days(session):
        kind = recheck_kind(event_day, as_of) if event_day else None
        if kind is None:
            continue
        if (ward.id, enrolment.wave_id, kind) not in done:
            due.append(ward.code)
    return due
