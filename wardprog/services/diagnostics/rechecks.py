"""Diagnostic re-checks, 3 and 6 months after the engagement event: each metric vs its baseline.

The baseline's SPC limits are fixed and the months since are read against them, so a verdict
(improvement, concern, mixed, no change) says whether the ward moved, not whether it is noisy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pandas as pd
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, col, select

from wardprog.config import IMPROVEMENT_TEAM_TAG, LONDON, Settings
from wardprog.errors import NotFoundError
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
from wardprog.rules.metrics import (
    METRICS_BY_KEY,
    ward_month_metrics,
)
from wardprog.services.context import require_id
from wardprog.services.diagnostics.charts import (
    _RULE_TEXT,
    _num,
    charts_for,
    find_signals,
    metrics_json,
    staff_survey_json,
)
from wardprog.services.diagnostics.extracts import (
    DiagnosticError,
    ExtractsRefused,
    baseline_period,
    load_checked,
)
from wardprog.services.diagnostics.stage import tell_team_refused

RECHECK_KINDS = {3: "recheck_3m", 6: "recheck_6m"}


RECHECK_KINDS_INV = {v: k for k, v in RECHECK_KINDS.items()}


VERDICTS = ("improvement", "concern", "mixed", "no_change")


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
        when = when.astimezone(LONDON)
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
            ward_id=require_id(ward),
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
