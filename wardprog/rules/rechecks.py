"""When a ward is re-checked after its engagement event, over which months, and the verdicts.

A re-check comes 3 and 6 months after the event. Each metric's months since the event are read
against SPC limits fixed on the months before it (``fix_after_n_points``), so a verdict says
whether the ward moved, not whether its data are noisy: improvement, concern, mixed (both kinds
of special cause since the event, e.g. a spike then a fall) or no change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from dateutil.relativedelta import relativedelta

from wardprog.rules.metrics import METRICS_BY_KEY, baseline_period
from wardprog.rules.spc import RULE_TEXT, figure

# Months after the event -> the snapshot kind the re-check is stored as.
RECHECK_KINDS = {3: "recheck_3m", 6: "recheck_6m"}
RECHECK_MONTHS = {kind: months for months, kind in RECHECK_KINDS.items()}
VERDICTS = ("improvement", "concern", "mixed", "no_change")


@dataclass
class MetricChange:
    metric: str
    label: str
    verdict: str  # one of VERDICTS
    before_mean: float | None
    after_mean: float | None
    after_points: int
    detail: str


def recheck_kind(event_day: date, as_of: date) -> str | None:
    """``recheck_6m`` from six months after the event, ``recheck_3m`` from three, else None."""
    for months in sorted(RECHECK_KINDS, reverse=True):
        if as_of >= event_day + relativedelta(months=months):
            return RECHECK_KINDS[months]
    return None


def recheck_period(event_day: date, as_of: date) -> tuple[date, date, date]:
    """(start, end, rebase_at) of a re-check as of ``as_of`` for an event on ``event_day``.

    The month the event falls in is part before, part after: the new process is measured from
    the first whole month after the event (or the event's own month if it was on the 1st).
    """
    rebase_at = (
        (event_day.replace(day=1) + relativedelta(months=1)) if event_day.day > 1 else event_day
    )
    start = baseline_period(event_day)[0]
    end = as_of.replace(day=1) - relativedelta(days=1)
    return start, end, rebase_at


def verdicts(before_after: pd.DataFrame, event_month: pd.Timestamp) -> list[MetricChange]:
    """Judge post-event months against limits fixed on the pre-event baseline.

    ``before_after`` is one ward's charts with limits fixed before ``event_month`` (one row per
    metric-month, ``spc_frame``'s columns). Columns are taken out as arrays once and each
    metric's rows found by position: slicing the frame twice per metric cost more than the SPC
    itself. Means stay pandas' (``Series.mean`` on the same values in the same order), so they
    match to the last bit.
    """
    metric = before_after["metric"].astype(str).to_numpy()
    is_after = (before_after["month"] >= event_month).to_numpy()
    value = before_after["value"].to_numpy(dtype=float)
    point_type = before_after["point_type"].astype(str).to_numpy()
    special = before_after["special_cause"].to_numpy(dtype=bool)
    rule = before_after["special_cause_type"].to_numpy()
    # Metrics in the order grouping by metric visits them (the categories' order for a
    # categorical column): the stored changes and the message list them in that order.
    group_no = before_after.groupby("metric", sort=False).ngroup().to_numpy()
    first_of = dict(zip(group_no.tolist(), metric.tolist(), strict=True))
    changes = []
    for key in (first_of[n] for n in sorted(first_of)):
        m = METRICS_BY_KEY[str(key)]
        rows = metric == key
        after = rows & is_after
        before = rows & ~is_after
        if not after.any() or not before.any():
            continue
        types = set(point_type[after].tolist())
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
        flagged = rule[after & special].tolist()
        detail = (
            ", ".join(sorted({RULE_TEXT.get(f, f) for f in flagged}))
            if flagged
            else "within the baseline's limits"
        )
        changes.append(
            MetricChange(
                metric=m.key,
                label=m.label,
                verdict=verdict,
                before_mean=figure(pd.Series(value[before]).mean()),
                after_mean=figure(pd.Series(value[after]).mean()),
                after_points=int(after.sum()),
                detail=detail,
            )
        )
    return changes
