"""Making Data Count XmR charts, exactly as NHS England's NHSRplotthedots computes them.

NHS England's "Making Data Count" programme asks boards to read every metric as an XmR
(individuals) chart so that common-cause noise is not mistaken for a signal. This module mirrors
the reference R implementation, NHSRplotthedots (``ptd_spc_standard.R``,
``ptd_calculate_point_type.R``, ``ptd_calculate_assurance_type.R``, ``ptd_get_icons``), so a
ward's chart here reads the same as the trust's Integrated Performance Report:

* per series and rebase segment: ``mean`` of the values (of the first ``fix_after_n_points`` if
  set), moving range ``|x_i - x_{i-1}|``, mean moving range; with ``screen_outliers`` (the
  package default) moving ranges of 3.267 x the mean moving range or more are dropped and the mean
  recomputed; process limits ``mean +/- 2.66 x mean MR`` (2.66 = 3 / d2 with d2 = 1.128 for
  ranges of two points, i.e. three sigma);
* special cause, in the package's order of precedence: a point outside a limit; part of a run
  of 7 strictly increasing or decreasing points; part of "2 of 3" consecutive points on the same
  side of the mean beyond two thirds of the way to a limit (two sigma); part of a run of 7 points
  on the same side of the mean;
* ``point_type`` ``common_cause``, ``special_cause_improvement``, ``special_cause_concern``, or
  for a neutral metric ``special_cause_neutral_high`` / ``special_cause_neutral_low``;
* the variation icon from the last point of a segment and, with a target, the assurance icon
  (``consistent_pass``, ``consistent_fail``, ``inconsistent``) from the last segment's limits.

Everything is vectorised over many series at once (one ``groupby`` key per ward x metric), so a
trust's 1,200 wards x 20 metrics are charted in one pass rather than 24,000 Python loops.

One deliberate extension: the package rebases only at dates present in the data; here a rebase
date starts a new segment at the first point on or after it, so an engagement event on the 14th
rebases from the next monthly point. With dates that are in the data the two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

# 3 / d2 (d2 = 1.128 for moving ranges of two consecutive points): a three-sigma limit.
LIMIT = 2.66
# Two sigma, i.e. two thirds of the way from the mean to a process limit.
LIMIT_CLOSE = 2 * (LIMIT / 3)
# Moving ranges at or above 3.267 x the mean MR (the MR chart's own upper limit) are outliers.
MR_OUTLIER = 3.267
# NHSRplotthedots warns when a segment has fewer points than this (best practice: 12+ points).
SHORT_GROUP_THRESHOLD = 12
RUN_LENGTH = 7


class Improvement(StrEnum):
    increase = "increase"
    decrease = "decrease"
    neutral = "neutral"

    @property
    def sign(self) -> int:
        return {"increase": 1, "decrease": -1, "neutral": 0}[self.value]


class PointType(StrEnum):
    common_cause = "common_cause"
    special_cause_improvement = "special_cause_improvement"
    special_cause_concern = "special_cause_concern"
    special_cause_neutral_high = "special_cause_neutral_high"
    special_cause_neutral_low = "special_cause_neutral_low"


class Assurance(StrEnum):
    consistent_pass = "consistent_pass"
    consistent_fail = "consistent_fail"
    inconsistent = "inconsistent"


COMMON_CAUSE = "Common Cause"
# ptd_special_cause_type's labels, in the package's precedence (pairs: up, down).
SPECIAL_CAUSE_TYPES = [
    COMMON_CAUSE,
    "Above UCL",
    "Below LCL",
    "7 Point Trend (Increasing)",
    "7 Point Trend (Decreasing)",
    "2 in 3 Above CL",
    "2 in 3 Below CL",
    "7 Points Above CL",
    "7 Points Below CL",
]
POINT_TYPES = [p.value for p in PointType]
VARIATION_ICONS = [
    "common_cause",
    "improvement_high",
    "improvement_low",
    "concern_high",
    "concern_low",
    "neutral_high",
    "neutral_low",
]

OUTPUT_COLUMNS = [
    "rebase_group",
    "mean",
    "lpl",
    "upl",
    "nlpl",
    "nupl",
    "outside_limits",
    "relative_to_mean",
    "close_to_limits",
    "special_cause_type",
    "special_cause",
    "point_type",
    "short_group_warning",
    "target",
    "variation_icon",
    "assurance_icon",
]


def variation_icon(point_type: str, improvement: Improvement | str) -> str:
    """The Making Data Count variation icon name for a segment whose last point is this type."""
    imp = Improvement(improvement)
    if point_type == PointType.special_cause_neutral_high:
        return "neutral_high"
    if point_type == PointType.special_cause_neutral_low:
        return "neutral_low"
    if point_type == PointType.special_cause_concern:
        return "concern_low" if imp is Improvement.increase else "concern_high"
    if point_type == PointType.special_cause_improvement:
        return "improvement_high" if imp is Improvement.increase else "improvement_low"
    return "common_cause"


def assurance_type(
    target: float | None, lpl: float, upl: float, improvement: Improvement | str
) -> Assurance | None:
    """Whether the process will consistently hit ``target`` (None when no target or neutral)."""
    imp = Improvement(improvement)
    if target is None or pd.isna(target) or imp is Improvement.neutral:
        return None
    increasing = imp is Improvement.increase
    if target > upl:
        return Assurance.consistent_fail if increasing else Assurance.consistent_pass
    if target < lpl:
        return Assurance.consistent_pass if increasing else Assurance.consistent_fail
    return Assurance.inconsistent


def spc(
    dates: Sequence[Any] | pd.Series | pd.Index | np.ndarray,
    values: Sequence[float] | pd.Series | np.ndarray,
    *,
    improvement: Improvement | str = Improvement.increase,
    target: float | None = None,
    rebase: Sequence[date | pd.Timestamp | str] = (),
    fix_after_n_points: int | None = None,
    screen_outliers: bool = True,
) -> pd.DataFrame:
    """One XmR chart: a frame with ``date``, ``value`` and the :data:`OUTPUT_COLUMNS`."""
    frame = pd.DataFrame({"date": pd.to_datetime(pd.Series(dates)), "value": values})
    frame["value"] = pd.to_numeric(frame["value"], errors="raise").astype(float)
    return spc_frame(
        frame,
        by=(),
        improvement=improvement,
        target=target,
        rebase=rebase,
        fix_after_n_points=fix_after_n_points,
        screen_outliers=screen_outliers,
    )


def spc_frame(
    data: pd.DataFrame,
    *,
    by: Sequence[str] = (),
    date_col: str = "date",
    value_col: str = "value",
    improvement: Improvement | str = Improvement.increase,
    improvement_col: str | None = None,
    target: float | None = None,
    target_col: str | None = None,
    rebase: Sequence[date | pd.Timestamp | str] = (),
    fix_after_n_points: int | None = None,
    screen_outliers: bool = True,
) -> pd.DataFrame:
    """XmR charts for every series in ``data`` at once (a series is one value of ``by``).

    ``improvement_col``/``target_col`` name per-row columns (constant within a series) for
    frames mixing metrics with different directions or targets. Rows with a missing value are
    dropped: like the reference package, a chart is drawn through the points that exist.
    Returns the input columns plus :data:`OUTPUT_COLUMNS`, sorted by series then date.
    """
    by = list(by)
    df = data.loc[data[value_col].notna()].copy()
    df[date_col] = pd.to_datetime(df[date_col])
    df = df.sort_values([*by, date_col], kind="stable").reset_index(drop=True)
    n = len(df)
    y = df[value_col].to_numpy(dtype=float)

    if improvement_col is not None:
        directions = df[improvement_col]
        unknown = ~directions.isin([i.value for i in Improvement])
        if unknown.any():
            bad = directions[unknown].iloc[0]
            raise ValueError(f"improvement must be increase, decrease or neutral, not {bad!r}")
        imp_sign = np.where(
            (directions == "increase").to_numpy(dtype=bool),
            1,
            np.where((directions == "decrease").to_numpy(dtype=bool), -1, 0),
        )
    else:
        imp_sign = np.full(n, Improvement(improvement).sign, dtype=int)
    if target_col is not None:
        tgt = pd.to_numeric(df[target_col], errors="coerce").to_numpy(dtype=float)
    else:
        tgt = np.full(n, np.nan if target is None else float(target))

    # Series ids, then segment ids (series x rebase group): every rule works within a segment.
    if by:
        series = df.groupby(by, sort=False, dropna=False).ngroup().to_numpy()
    else:
        series = np.zeros(n, dtype=int)
    rebase_ts = sorted(pd.Timestamp(d) for d in rebase)
    dates_arr = df[date_col].to_numpy()
    rebase_flag = np.zeros(n, dtype=int)
    if rebase_ts and n:
        new_series = _starts(series)
        # The first point of each series on/after each rebase date starts a new segment.
        for ts in rebase_ts:
            after = dates_arr >= np.datetime64(ts)
            first_after = after & (new_series | ~_shift(after, 1, False))
            rebase_flag |= (first_after & ~new_series).astype(int)
    rebase_group = _group_cumsum(rebase_flag, series)
    seg = _segment_ids(series, rebase_group)
    starts = _starts(seg)
    pos = _position(starts)
    seg_size = np.bincount(seg)[seg] if n else np.zeros(0, dtype=int)

    fix_y = y.copy()
    if fix_after_n_points is not None:
        fix_y[pos >= fix_after_n_points] = np.nan
    mean = _seg_nanmean(fix_y, seg)
    mr = np.abs(fix_y - _shift(fix_y, 1, np.nan))
    mr[starts] = np.nan
    amr = _seg_nanmean(mr, seg)
    if screen_outliers:
        mr = np.where(mr < MR_OUTLIER * amr, mr, np.nan)
        amr = _seg_nanmean(mr, seg)
    # A one-point (or, once outliers are screened, a constant) segment has no usable moving
    # range: its limits are undefined (NaN), as in the package, and no point can breach them.
    lpl = mean - LIMIT * amr
    upl = mean + LIMIT * amr
    nlpl = mean - LIMIT_CLOSE * amr
    nupl = mean + LIMIT_CLOSE * amr

    outside = (y > upl) | (y < lpl)
    rtm = np.sign(y - mean).astype(int)
    close = ~outside & ((y < nlpl) | (y > nupl))

    part_trend, trend_dir = _seven_point_trend(y, seg, starts)
    part_two_three = _two_in_three(close, rtm, seg)
    part_side = _seven_one_side(rtm, seg, starts)

    # Direction (+1 above/increasing, -1 below/decreasing) of each special cause, by precedence:
    # outside a limit, then trend, then 2 of 3, then run on one side (ptd_special_cause_type).
    above = rtm > 0
    sc_code = np.zeros(n, dtype=np.int8)
    direction = np.zeros(n, dtype=int)
    done = np.zeros(n, dtype=bool)
    rules = [
        (outside, rtm == 1),
        (part_trend, trend_dir == 1),
        (part_two_three, above),
        (part_side, above),
    ]
    for k, (cond, is_up) in enumerate(rules):
        take = cond & ~done
        sc_code[take] = np.where(is_up, 2 * k + 1, 2 * k + 2)[take]
        direction[take] = np.where(is_up, 1, -1)[take]
        done |= take
    special = done

    oriented = direction * imp_sign
    neutral = imp_sign == 0
    pt_code = np.select(
        [
            ~special,
            neutral & (direction > 0),
            neutral & (direction < 0),
            oriented > 0,
            oriented < 0,
        ],
        [0, 3, 4, 1, 2],
        default=0,
    ).astype(np.int8)

    out = df
    out["rebase_group"] = rebase_group
    out["mean"] = mean
    out["lpl"] = lpl
    out["upl"] = upl
    out["nlpl"] = nlpl
    out["nupl"] = nupl
    out["outside_limits"] = outside
    out["relative_to_mean"] = rtm
    out["close_to_limits"] = close
    out["special_cause_type"] = pd.Categorical.from_codes(
        sc_code, categories=pd.Index(SPECIAL_CAUSE_TYPES)
    )
    out["special_cause"] = special
    out["point_type"] = pd.Categorical.from_codes(pt_code, categories=pd.Index(POINT_TYPES))
    out["short_group_warning"] = seg_size < SHORT_GROUP_THRESHOLD
    out["target"] = tgt

    # Icons: the variation icon of a segment comes from its last point; assurance is only
    # meaningful for the current (last) segment of a series, as in the package's summary().
    last = np.flatnonzero(_ends(seg))  # seg ids are 0..k-1 in row order: last[seg] is the end
    pt_last, sign_last = pt_code[last], imp_sign[last]
    icon_code = np.select(
        [pt_last == 1, pt_last == 2, pt_last == 3, pt_last == 4],
        [
            np.where(sign_last == 1, 1, 2),  # improvement_high / _low
            np.where(sign_last == 1, 4, 3),  # concern_low / _high
            np.full(len(last), 5),
            np.full(len(last), 6),
        ],
        default=0,
    ).astype(np.int8)
    out["variation_icon"] = pd.Categorical.from_codes(
        icon_code[seg], categories=pd.Index(VARIATION_ICONS)
    )

    t, lo, hi, sg = tgt[last], lpl[last], upl[last], sign_last
    with np.errstate(invalid="ignore"):
        assurance_last = np.select(
            [np.isnan(t) | (sg == 0), t > hi, t < lo],
            [-1, np.where(sg == 1, 1, 0), np.where(sg == 1, 0, 1)],
            default=2,
        ).astype(np.int8)
    series_runs = np.cumsum(_starts(series)) - 1 if n else np.zeros(0, dtype=int)
    is_current = np.ones(len(last), dtype=bool)
    if len(last):
        seg_series = series_runs[last]
        is_current[:-1] = seg_series[1:] != seg_series[:-1]
    assurance_seg = np.where(is_current, assurance_last, -1).astype(np.int8)
    out["assurance_icon"] = pd.Categorical.from_codes(
        assurance_seg[seg], categories=pd.Index([a.value for a in Assurance])
    )
    return out


# -- vectorised helpers over rows sorted by segment (seg ids are non-decreasing) ---------------


def _shift(a: np.ndarray, k: int, fill: Any) -> np.ndarray:
    """``a`` moved ``k`` places later (k > 0) or earlier (k < 0), padded with ``fill``."""
    out = np.empty_like(a, dtype=np.result_type(a, np.asarray(fill)))
    if k == 0:
        out[:] = a
    elif k > 0:
        out[:k] = fill
        out[k:] = a[:-k]
    else:
        out[k:] = fill
        out[:k] = a[-k:]
    return out


def _starts(ids: np.ndarray) -> np.ndarray:
    s = np.ones(len(ids), dtype=bool)
    if len(ids):
        s[1:] = ids[1:] != ids[:-1]
    return s


def _ends(ids: np.ndarray) -> np.ndarray:
    e = np.ones(len(ids), dtype=bool)
    if len(ids):
        e[:-1] = ids[1:] != ids[:-1]
    return e


def _position(starts: np.ndarray) -> np.ndarray:
    """0-based position of each row within its run of rows (runs begin where ``starts``)."""
    idx = np.arange(len(starts))
    first = np.maximum.accumulate(np.where(starts, idx, 0)) if len(starts) else idx
    return idx - first


def _group_cumsum(flags: np.ndarray, series: np.ndarray) -> np.ndarray:
    if not len(flags):
        return flags.astype(int)
    return pd.Series(flags).groupby(series, sort=False).cumsum().to_numpy(dtype=int)


def _segment_ids(series: np.ndarray, rebase_group: np.ndarray) -> np.ndarray:
    change = np.ones(len(series), dtype=bool)
    if len(series):
        change[1:] = (series[1:] != series[:-1]) | (rebase_group[1:] != rebase_group[:-1])
    return np.cumsum(change) - 1


def _seg_nanmean(x: np.ndarray, seg: np.ndarray) -> np.ndarray:
    if not len(x):
        return x.astype(float)
    ok = ~np.isnan(x)
    sums = np.bincount(seg, weights=np.where(ok, x, 0.0))
    counts = np.bincount(seg, weights=ok.astype(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
    return means[seg]


def _run_lengths(keys: np.ndarray, breaks: np.ndarray) -> np.ndarray:
    """Length of the run of equal ``keys`` each row belongs to; a run also ends at ``breaks``."""
    if not len(keys):
        return np.zeros(0, dtype=int)
    change = breaks.copy()
    change[1:] |= keys[1:] != keys[:-1]
    run_id = np.cumsum(change) - 1
    return np.bincount(run_id)[run_id]


def _seven_one_side(rtm: np.ndarray, seg: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Part of a run of 7+ points on the same side of the mean (a point on the mean breaks it)."""
    lengths = _run_lengths(rtm, starts)
    return (rtm != 0) & (lengths >= RUN_LENGTH)


def _seven_point_trend(
    y: np.ndarray, seg: np.ndarray, starts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Points in a run of 7+ strictly rising or falling points, and each such point's direction.

    Equal neighbouring values break a trend. A point joining two trends takes the direction of
    the step to its right, as ``ptd_special_cause_type`` does.
    """
    n = len(y)
    d = np.sign(y - _shift(y, 1, np.nan))
    d[starts] = 0
    d = np.nan_to_num(d).astype(int)
    # Run of equal non-zero step signs ending at each point; 6 steps = 7 points.
    lengths = _run_lengths(d, starts)
    change = starts.copy()
    if n:
        change[1:] |= d[1:] != d[:-1]
    in_trend_step = (d != 0) & (lengths >= RUN_LENGTH - 1)
    # A step at i involves points i-1 and i, so the point before a run of steps is part of it.
    part = in_trend_step | (_shift(in_trend_step, -1, False) & ~_shift(starts, -1, True))
    right_step = _shift(d, -1, 0)
    next_part = _shift(part, -1, False) & ~_shift(starts, -1, True)
    direction = np.where(next_part & part, right_step, d)
    return part, direction


def _two_in_three(close: np.ndarray, rtm: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Close-to-limit points in a window of 3 with 2+ close points, all 3 on one side."""
    n = len(close)
    c = close.astype(int)
    # Window starting at j covers j, j+1, j+2 and must lie inside one segment.
    same2 = (_shift(seg, -2, -1) == seg) if n else np.zeros(0, dtype=bool)
    csum = c + _shift(c, -1, 0) + _shift(c, -2, 0)
    rsum = rtm + _shift(rtm, -1, 0) + _shift(rtm, -2, 0)
    window = same2 & (csum >= 2) & (np.abs(rsum) == 3)
    flagged = window | _shift(window, 1, False) | _shift(window, 2, False)
    return flagged & close


def spc_summary(chart: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """One row per series and segment, like ``summary.ptd_spc_df``: limits, counts and icons."""
    keys = [*by, "rebase_group"]
    grouped = chart.groupby(keys, sort=False)
    summary = grouped.agg(
        mean=("mean", "first"),
        lpl=("lpl", "first"),
        upl=("upl", "first"),
        n=("value", "size"),
        special_cause=("special_cause", "sum"),
        variation_icon=("variation_icon", "last"),
        assurance_icon=("assurance_icon", "last"),
    )
    pt = chart["point_type"]
    summary["special_cause_improvement"] = (
        (pt == PointType.special_cause_improvement).groupby([chart[k] for k in keys]).sum()
    )
    summary["special_cause_concern"] = (
        (pt == PointType.special_cause_concern).groupby([chart[k] for k in keys]).sum()
    )
    summary["common_cause"] = summary["n"] - summary["special_cause"]
    return summary.reset_index()
