"""Making Data Count XmR charts, exactly as NHS England's NHSRplotthedots computes them.

NHS England's "Making Data Count" programme asks boards to read every metric as an XmR
(individuals) chart so that common-cause noise is not mistaken for a signal. This module mirrors
the reference R implementation, NHSRplotthedots (``ptd_spc_standard.R``,
``ptd_calculate_point_type.R``, ``ptd_calculate_assurance_type.R``, ``ptd_get_icons``), so a
ward's chart here reads the same as the trust's Integrated Performance Report:

* per series and rebase segment: ``mean`` of the values (of the first ``fix_after_n_points`` if
  set; computed as R's ``mean()`` computes it, see :func:`r_mean`, so a point equal to the mean
  of decimal data is exactly on it), moving range ``|x_i - x_{i-1}|``, mean moving range;
  with ``screen_outliers`` (the package default) moving ranges of 3.267 x the mean moving range
  or more are dropped and the mean recomputed; process limits ``mean +/- 2.66 x mean MR``
  (2.66 = 3 / d2 with d2 = 1.128 for ranges of two points, i.e. three sigma);
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

Missing values are charted as the package charts them: the row stays (value NaN), no moving
range is taken across the gap, and the gap breaks any run or trend.

One deliberate extension: the package rebases only at dates present in the data; here a rebase
date starts a new segment at the first point on or after it, so an engagement event on the 14th
rebases from the next monthly point. With dates that are in the data the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
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
# NHSRplotthedots warns that limits are trial limits when a segment has fewer points than this
# (``ptd_add_short_group_warnings``' threshold, though its message says "n < 12").
SHORT_GROUP_THRESHOLD = 13
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
# Each special-cause rule as a ward's staff read it (the pack's signals, a re-check's detail).
RULE_TEXT = {
    "Above UCL": "a point above the upper limit",
    "Below LCL": "a point below the lower limit",
    "7 Point Trend (Increasing)": "a run of 7 rising points",
    "7 Point Trend (Decreasing)": "a run of 7 falling points",
    "2 in 3 Above CL": "2 of 3 points close to the upper limit",
    "2 in 3 Below CL": "2 of 3 points close to the lower limit",
    "7 Points Above CL": "7 or more points in a row above the mean",
    "7 Points Below CL": "7 or more points in a row below the mean",
}
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


def figure(value: Any) -> float | None:
    """A figure as stored and drawn (a chart's value, mean or limit, a survey score): 4 places,
    None where missing (NaN)."""
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) else round(f, 4)


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
    frames mixing metrics with different directions or targets. A row with a missing value is
    kept and charted as NHSRplotthedots charts it: it has its segment's limits, no moving range
    is taken across it (the ranges either side of the gap are left out), it is never a special
    cause and it breaks any run or trend through it. Returns the input columns plus
    :data:`OUTPUT_COLUMNS`, sorted by series then date.

    The package's steps, in its order and by its names: :func:`prepare` (``ptd_spc``'s checks
    and ``ptd_add_rebase_column``), :func:`spc_standard` (``ptd_spc_standard``: the standard
    limits), :func:`calculate_point_type` (``ptd_calculate_point_type``), :func:`icons`
    (``ptd_get_icons`` and ``ptd_calculate_assurance_type``), then :func:`assemble`.
    """
    prepared = prepare(
        data,
        by=by,
        date_col=date_col,
        value_col=value_col,
        improvement=improvement,
        improvement_col=improvement_col,
        target=target,
        target_col=target_col,
        rebase=rebase,
    )
    std = spc_standard(prepared.y, prepared.seg, fix_after_n_points, screen_outliers)
    sc_code, pt_code = calculate_point_type(prepared.y, prepared.seg, std, prepared.imp_sign)
    icon_code, assurance_code = icons(
        prepared.seg, prepared.series, pt_code, prepared.imp_sign, prepared.target, std
    )
    return assemble(prepared, std, sc_code, pt_code, icon_code, assurance_code)


# -- the package's steps, each over all segments at once -----------------------------------------


@dataclass(frozen=True)
class Prepared:
    """``ptd_spc``'s input after its checks and ``ptd_add_rebase_column``: the sorted frame,
    its values, and per row the improvement sign, target, series and segment."""

    frame: pd.DataFrame
    y: np.ndarray
    imp_sign: np.ndarray
    target: np.ndarray
    series: np.ndarray
    rebase_group: np.ndarray
    seg: np.ndarray


def prepare(
    data: pd.DataFrame,
    *,
    by: Sequence[str],
    date_col: str,
    value_col: str,
    improvement: Improvement | str,
    improvement_col: str | None,
    target: float | None,
    target_col: str | None,
    rebase: Sequence[date | pd.Timestamp | str],
) -> Prepared:
    """Sort by series then date, read the values, directions and targets, and number each
    row's series and segment (series x rebase group): every rule works within a segment."""
    by = list(by)
    df = data.copy()
    df[date_col] = pd.to_datetime(df[date_col])
    df = df.sort_values([*by, date_col], kind="stable").reset_index(drop=True)
    n = len(df)
    y = pd.to_numeric(df[value_col], errors="raise").to_numpy(dtype=float)
    imp_sign = _improvement_signs(df, improvement, improvement_col)
    if target_col is not None:
        tgt = pd.to_numeric(df[target_col], errors="coerce").to_numpy(dtype=float)
    else:
        tgt = np.full(n, np.nan if target is None else float(target))
    if by:
        series = df.groupby(by, sort=False, dropna=False).ngroup().to_numpy()
    else:
        series = np.zeros(n, dtype=int)
    rebase_group = add_rebase_column(df[date_col].to_numpy(), series, rebase)
    return Prepared(df, y, imp_sign, tgt, series, rebase_group, _segment_ids(series, rebase_group))


def assemble(
    prepared: Prepared,
    std: dict[str, np.ndarray],
    sc_code: np.ndarray,
    pt_code: np.ndarray,
    icon_code: np.ndarray,
    assurance_code: np.ndarray,
) -> pd.DataFrame:
    """The input columns plus :data:`OUTPUT_COLUMNS`, in the package's column order."""
    out = prepared.frame
    seg = prepared.seg
    seg_size = np.bincount(seg)[seg] if len(seg) else np.zeros(0, dtype=int)
    out["rebase_group"] = prepared.rebase_group
    for name in ("mean", "lpl", "upl", "nlpl", "nupl"):
        out[name] = std[name]
    out["outside_limits"] = std["outside_limits"]
    out["relative_to_mean"] = std["relative_to_mean"]
    out["close_to_limits"] = std["close_to_limits"]
    out["special_cause_type"] = pd.Categorical.from_codes(
        sc_code, categories=pd.Index(SPECIAL_CAUSE_TYPES)
    )
    out["special_cause"] = sc_code != 0
    out["point_type"] = pd.Categorical.from_codes(pt_code, categories=pd.Index(POINT_TYPES))
    out["short_group_warning"] = seg_size < SHORT_GROUP_THRESHOLD
    out["target"] = prepared.target
    out["variation_icon"] = pd.Categorical.from_codes(
        icon_code, categories=pd.Index(VARIATION_ICONS)
    )
    out["assurance_icon"] = pd.Categorical.from_codes(
        assurance_code, categories=pd.Index([a.value for a in Assurance])
    )
    return out


def _improvement_signs(
    df: pd.DataFrame, improvement: Improvement | str, improvement_col: str | None
) -> np.ndarray:
    if improvement_col is None:
        return np.full(len(df), Improvement(improvement).sign, dtype=int)
    directions = df[improvement_col]
    unknown = ~directions.isin([i.value for i in Improvement])
    if unknown.any():
        bad = directions[unknown].iloc[0]
        raise ValueError(f"improvement must be increase, decrease or neutral, not {bad!r}")
    return np.where(
        (directions == "increase").to_numpy(dtype=bool),
        1,
        np.where((directions == "decrease").to_numpy(dtype=bool), -1, 0),
    )


def add_rebase_column(
    dates: np.ndarray, series: np.ndarray, rebase: Sequence[date | pd.Timestamp | str]
) -> np.ndarray:
    """``ptd_add_rebase_column`` then ``cumsum``: each row's rebase group within its series.

    The first point of each series on or after a rebase date starts a new group (a date in the
    data starts it there, as in the package; a date between points, at the next point).
    """
    n = len(dates)
    rebase_flag = np.zeros(n, dtype=int)
    if rebase and n:
        new_series = _starts(series)
        for ts in sorted(pd.Timestamp(d) for d in rebase):
            after = dates >= np.datetime64(ts)
            first_after = after & (new_series | ~_shift(after, 1, False))
            rebase_flag |= (first_after & ~new_series).astype(int)
    return _group_cumsum(rebase_flag, series)


def rebase_dates_not_in_data(
    dates: Sequence[Any] | pd.Series, rebase: Sequence[date | pd.Timestamp | str]
) -> list[tuple[pd.Timestamp, pd.Timestamp | None]]:
    """Rebase dates that are not a date of the series, each with the point that starts instead.

    NHSRplotthedots ignores such a date; here the new limits start at the next point (None when
    the date is after the last point, so nothing is rebased).
    """
    ds = pd.Series(pd.to_datetime(pd.Series(dates))).sort_values()
    present = set(ds)
    out: list[tuple[pd.Timestamp, pd.Timestamp | None]] = []
    for d in sorted(pd.Timestamp(r) for r in rebase):
        if d in present:
            continue
        later = ds[ds > d]
        out.append((d, later.iloc[0] if len(later) else None))
    return out


def spc_standard(
    y: np.ndarray, seg: np.ndarray, fix_after_n_points: int | None, screen_outliers: bool
) -> dict[str, np.ndarray]:
    """``ptd_spc_standard``: mean, moving ranges, limits and each point's place against them."""
    starts = _starts(seg)
    pos = _position(starts)
    fix_y = y.copy()
    if fix_after_n_points is not None:
        fix_y[pos >= fix_after_n_points] = np.nan
    mean = r_mean(fix_y, seg, pos)
    # |diff|: a missing value leaves out the moving ranges on both sides of it.
    mr = np.abs(fix_y - _shift(fix_y, 1, np.nan))
    mr[starts] = np.nan
    amr = r_mean(mr, seg, pos)
    if screen_outliers:
        with np.errstate(invalid="ignore"):
            mr = np.where(mr < MR_OUTLIER * amr, mr, np.nan)
        amr = r_mean(mr, seg, pos)
    # A one-point (or, once outliers are screened, a constant) segment has no usable moving
    # range: its limits are undefined (NaN), as in the package, and no point can breach them.
    lpl = mean - LIMIT * amr
    upl = mean + LIMIT * amr
    nlpl = mean - LIMIT_CLOSE * amr
    nupl = mean + LIMIT_CLOSE * amr
    with np.errstate(invalid="ignore"):
        outside = (y > upl) | (y < lpl)
        close = ~outside & ((y < nlpl) | (y > nupl))
        diff = y - mean
    # Exact: a point equal to its segment's mean (computed as R does) is on neither side. A
    # missing value is on neither side either, so it breaks a run (NA in the package).
    rtm = np.where(np.isnan(diff), 0, np.sign(np.nan_to_num(diff))).astype(int)
    return {
        "mean": mean,
        "lpl": lpl,
        "upl": upl,
        "nlpl": nlpl,
        "nupl": nupl,
        "outside_limits": outside,
        "relative_to_mean": rtm,
        "close_to_limits": close,
    }


def calculate_point_type(
    y: np.ndarray, seg: np.ndarray, std: dict[str, np.ndarray], imp_sign: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``ptd_calculate_point_type``: codes into SPECIAL_CAUSE_TYPES and POINT_TYPES per point."""
    n = len(y)
    starts = _starts(seg)
    outside, rtm, close = std["outside_limits"], std["relative_to_mean"], std["close_to_limits"]
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

    oriented = direction * imp_sign
    neutral = imp_sign == 0
    pt_code = np.select(
        [
            ~done,
            neutral & (direction > 0),
            neutral & (direction < 0),
            oriented > 0,
            oriented < 0,
        ],
        [0, 3, 4, 1, 2],
        default=0,
    ).astype(np.int8)
    return sc_code, pt_code


def icons(
    seg: np.ndarray,
    series: np.ndarray,
    pt_code: np.ndarray,
    imp_sign: np.ndarray,
    tgt: np.ndarray,
    std: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Variation icon codes (last point of each segment) and assurance codes (-1 for none).

    Assurance is only meaningful for the current (last) segment of a series, as in the package's
    ``summary()``; it compares the target with the limits of the series' last row.
    """
    n = len(seg)
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

    t, lo, hi, sg = tgt[last], std["lpl"][last], std["upl"][last], sign_last
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
    return icon_code[seg], assurance_seg[seg]


def r_mean(x: np.ndarray, seg: np.ndarray, pos: np.ndarray | None = None) -> np.ndarray:
    """Each segment's mean of the non-missing ``x``, computed exactly as R's ``mean()`` does.

    R sums in long double, divides, then adds the mean of the residuals as a correction
    (``real_mean`` in R's ``summary.c``), so the mean of equal decimals is exactly that decimal
    and a point equal to it is on neither side. A plain float sum / n can be an ulp off and put
    that point on one side. The sums run in order within each segment, as R's loop does: one
    vectorised step per position, over all segments at once. ``seg`` are non-decreasing segment
    ids from 0 and ``pos`` each row's position in its segment. Returns the mean on every row
    (NaN for a segment with no values). numpy's ``longdouble`` is C's ``long double``, as R's
    ``LDOUBLE`` is: 80-bit extended on x86-64 Linux, where the parity corpus was recorded.
    """
    n = len(x)
    if not n:
        return x.astype(float)
    if pos is None:
        pos = _position(_starts(seg))
    nseg = int(seg[-1]) + 1
    ok = ~np.isnan(x)
    counts = np.bincount(seg, weights=ok, minlength=nseg).astype(np.longdouble)
    length = int(pos.max()) + 1
    # Positions x segments, zero where a segment has ended or a value is missing (adding an
    # exact zero changes no sum); a long series among short ones would make this mostly padding.
    if length * nseg <= 4 * n + 4096:
        grid = np.zeros((length, nseg), dtype=np.longdouble)
        grid[pos, seg] = np.where(ok, x, 0.0)
        valid = np.zeros((length, nseg), dtype=bool)
        valid[pos, seg] = ok
        s = np.zeros(nseg, dtype=np.longdouble)
        for k in range(length):
            s += grid[k]
        with np.errstate(invalid="ignore", divide="ignore"):
            s /= counts
            t = np.zeros(nseg, dtype=np.longdouble)
            for k in range(length):
                t += np.where(valid[k], grid[k] - s, 0)
            s = np.where(np.isfinite(s), s + t / counts, s)
        return s.astype(float)[seg]
    xl = np.where(ok, x, 0.0).astype(np.longdouble)
    order = np.argsort(pos, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(pos))])
    steps = [order[bounds[k] : bounds[k + 1]] for k in range(length)]
    s = np.zeros(nseg, dtype=np.longdouble)
    for rows in steps:
        s[seg[rows]] += xl[rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        s /= counts
        t = np.zeros(nseg, dtype=np.longdouble)
        for rows in steps:
            sr = seg[rows]
            t[sr] += np.where(ok[rows], xl[rows] - s[sr], 0)
        s = np.where(np.isfinite(s), s + t / counts, s)
    return s.astype(float)[seg]


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
