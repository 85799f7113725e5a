"""Making Data Count XmR semantics, checked against NHSRplotthedots.

Cases cite the package's own tests (nhs-r-community/NHSRplotthedots, tests/testthat/) and R
sources. A loop-by-loop transliteration of the R rule functions (``_r_*`` below) is the oracle for
the property test of the vectorised implementation.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wardprog.rules.spc import (
    _seven_one_side,
    _seven_point_trend,
    _starts,
    _two_in_three,
    assurance_type,
    r_mean,
    spc,
    spc_frame,
    spc_summary,
    variation_icon,
)

MONTHS = pd.date_range("2022-01-01", periods=40, freq="MS")


def _one_series(n: int) -> tuple[np.ndarray, np.ndarray]:
    seg = np.zeros(n, dtype=int)
    return seg, _starts(seg)


# -- rule helpers: vectors from test-ptd_calculate_point_type.R -----------------------------------


@pytest.mark.parametrize(
    ("rtm", "expected"),
    [
        # ptd_seven_point_one_side_mean(rep(1, 6)) marks nothing: 6 is not a run of 7.
        ([1] * 6, [0] * 6),
        ([1] * 6 + [-1], [0] * 7),
        # rep(1, 8), -1: marks at 7 and 8, so ptd_part_of_seven_trend flags the first 8 points.
        ([1] * 8 + [-1], [1] * 8 + [0]),
        ([-1] * 8 + [1], [1] * 8 + [0]),
        ([-1] + [1] * 8 + [-1], [0] + [1] * 8 + [0]),
    ],
)
def test_seven_points_one_side_of_mean(rtm: list[int], expected: list[int]) -> None:
    """test-ptd_calculate_point_type.R: ptd_seven_point_one_side_mean + ptd_part_of_seven_trend."""
    seg, starts = _one_series(len(rtm))
    assert _seven_one_side(np.array(rtm), seg, starts).astype(int).tolist() == expected


@pytest.mark.parametrize(
    ("y", "part", "direction"),
    [
        (list(range(1, 7)), [0] * 6, None),
        # c(1:3, 3:6): the repeated 3 breaks the trend.
        ([1, 2, 3, 3, 4, 5, 6], [0] * 7, None),
        (list(range(1, 8)), [1] * 7, 1),
        # c(2, 1:7, 3): the trend is points 2..8 (R marks point 8, part-of spreads back 6).
        ([2, *range(1, 8), 3], [0, 1, 1, 1, 1, 1, 1, 1, 0], 1),
        (list(range(7, 0, -1)), [1] * 7, -1),
        ([2, *range(7, 0, -1), 3], [0, 1, 1, 1, 1, 1, 1, 1, 0], -1),
    ],
)
def test_seven_point_trend(y: list[int], part: list[int], direction: int | None) -> None:
    """test-ptd_calculate_point_type.R: ptd_seven_point_trend (incl. the decreasing cases)."""
    seg, starts = _one_series(len(y))
    flagged, dirs = _seven_point_trend(np.array(y, dtype=float), seg, starts)
    assert flagged.astype(int).tolist() == part
    if direction is not None:
        assert set(dirs[flagged].tolist()) == {direction}


@pytest.mark.parametrize(
    ("close", "expected"),
    [
        ([1, 0, 1], [1, 0, 1]),
        ([0, 1, 1], [0, 1, 1]),
        ([1, 1, 0], [1, 1, 0]),
        ([0, 0, 1, 0, 1, 0, 0], [0, 0, 1, 0, 1, 0, 0]),
        ([0, 0, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 0, 0]),
        # Two close points 3 apart are not "2 of 3".
        ([1, 0, 0, 1], [0, 0, 0, 0]),
        ([1, 0, 0, 1, 1], [0, 0, 0, 1, 1]),
    ],
)
def test_two_in_three(close: list[int], expected: list[int]) -> None:
    """test-ptd_calculate_point_type.R: ptd_two_in_three + ptd_part_of_two_in_three."""
    seg, _ = _one_series(len(close))
    rtm = np.ones(len(close), dtype=int)
    got = _two_in_three(np.array(close, dtype=bool), rtm, seg)
    assert got.astype(int).tolist() == expected


def test_two_in_three_needs_all_three_points_on_one_side() -> None:
    """test-ptd_spc_standard.R: symmetrical data with points 15 and 16 near opposite limits."""
    data = [1.0, -1.0] * 8
    data[14], data[15] = 5.5, -5.5
    out = spc(pd.date_range("2020-01-02", periods=16, freq="D"), data)
    assert out["point_type"].tail(2).tolist() == ["common_cause", "common_cause"]


# -- limits --------------------------------------------------------------------------------------


def test_limits_by_hand_with_outlier_screening_and_rebase() -> None:
    """ptd_spc_standard.R: mean, mean MR, MR outliers (>= 3.267 x mean MR) screened, 2.66."""
    values = [
        10,
        12,
        11,
        9,
        10,
        11,
        12,
        10,
        9,
        11,
        10,
        12,
        14,
        15,
        16,
        17,
        18,
        19,
        20,
        13,
        12,
        11,
        30,
        10,
    ]
    out = spc(MONTHS[:24], values, improvement="decrease", target=12, rebase=[date(2023, 1, 1)])
    second = out.iloc[12:]
    assert out["rebase_group"].tolist() == [0] * 12 + [1] * 12
    assert second["mean"].iloc[0] == pytest.approx(195 / 12)
    # MRs 1,1,1,1,1,1,7,1,1,19,20: mean 54/11; 19 and 20 are >= 3.267 x that and are dropped.
    amr = 15 / 9
    assert second["upl"].iloc[0] == pytest.approx(195 / 12 + 2.66 * amr)
    assert second["lpl"].iloc[0] == pytest.approx(195 / 12 - 2.66 * amr)
    types = second["special_cause_type"].tolist()
    assert types[:7] == ["7 Point Trend (Increasing)"] * 7
    assert types[7:9] == ["2 in 3 Below CL"] * 2
    assert types[9:] == ["Below LCL", "Above UCL", "Below LCL"]
    # Decrease is better: rising is concern, low points are improvement.
    assert second["point_type"].tolist()[:7] == ["special_cause_concern"] * 7
    assert second["point_type"].iloc[-1] == "special_cause_improvement"
    assert second["variation_icon"].iloc[-1] == "improvement_low"
    # Assurance only for the current segment.
    assert out["assurance_icon"].iloc[-1] == "inconsistent"
    assert not isinstance(out["assurance_icon"].iloc[0], str)


def test_screen_outliers_narrows_limits() -> None:
    """test-ptd_spc_standard.R 'testing the screen_outliers': one huge value widens unscreened."""
    rng = np.random.default_rng(123)
    y = rng.normal(size=20)
    y[14] = 10
    screened = spc(MONTHS[:20], y)
    unscreened = spc(MONTHS[:20], y, screen_outliers=False)
    assert (unscreened["upl"] - unscreened["lpl"]).iloc[0] > (
        screened["upl"] - screened["lpl"]
    ).iloc[0]


def test_fix_after_n_points_uses_only_the_baseline() -> None:
    """test-ptd_spc_standard.R: fix_after_n_points changes the limits (mean of first n only)."""
    y = [5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 5, 6, 20, 21, 22]
    out = spc(MONTHS[:15], y, fix_after_n_points=12)
    assert out["mean"].iloc[0] == pytest.approx(5.5)
    assert out["upl"].iloc[0] == pytest.approx(5.5 + 2.66 * 1.0)
    assert out["special_cause_type"].tail(3).tolist() == ["Above UCL"] * 3


def test_rebase_at_a_date_between_points_starts_at_the_next_point() -> None:
    out = spc(MONTHS[:24], list(range(24)), rebase=[date(2022, 6, 14)])
    assert out["rebase_group"].tolist() == [0] * 6 + [1] * 18
    assert out["short_group_warning"].tolist() == [True] * 6 + [False] * 18


def test_neutral_metric_gives_high_and_low() -> None:
    """ptd_point_type: improvement_direction 0 gives special_cause_neutral_high/_low."""
    y = [10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 30, 10, -10]
    out = spc(MONTHS[:15], y, improvement="neutral")
    assert out["point_type"].iloc[12] == "special_cause_neutral_high"
    assert out["point_type"].iloc[14] == "special_cause_neutral_low"
    assert out["variation_icon"].iloc[-1] == "neutral_low"


@pytest.mark.parametrize(
    ("improvement", "expected"),
    [
        ("increase", ["consistent_fail", "consistent_pass", "inconsistent"]),
        ("decrease", ["consistent_pass", "consistent_fail", "inconsistent"]),
        ("neutral", [None, None, None]),
    ],
)
def test_assurance(improvement: str, expected: list[str | None]) -> None:
    """test-ptd_calculate_assurance_type.R: lpl (1,5,1), upl (3,7,5), target 4."""
    got = [assurance_type(4, lpl, upl, improvement) for lpl, upl in ((1, 3), (5, 7), (1, 5))]
    assert [g.value if g else None for g in got] == expected
    assert assurance_type(None, 1, 3, "increase") is None


def test_variation_icons() -> None:
    """ptd_get_icons (geom_ptd_icon.R): icon file names by point type and direction."""
    assert variation_icon("common_cause", "increase") == "common_cause"
    assert variation_icon("special_cause_concern", "increase") == "concern_low"
    assert variation_icon("special_cause_concern", "decrease") == "concern_high"
    assert variation_icon("special_cause_improvement", "increase") == "improvement_high"
    assert variation_icon("special_cause_improvement", "decrease") == "improvement_low"
    assert variation_icon("special_cause_neutral_high", "neutral") == "neutral_high"


def test_constant_series_has_no_limits_and_no_signals() -> None:
    out = spc(MONTHS[:12], [3.0] * 12)
    assert out["upl"].isna().all() and not out["special_cause"].any()


def test_summary_counts() -> None:
    out = spc(MONTHS[:24], [10, 12, 11, 9, 10, 11, 12, 10, 9, 11, 10, 12] + [30] + [10] * 11)
    s = spc_summary(out)
    row = s.to_dict("records")[0]
    assert row["n"] == 24
    assert row["common_cause"] + row["special_cause"] == 24


# -- oracle: a literal transliteration of the R functions, point by point -----------------------


def _r_point_types(y: list[float], improvement: int) -> list[str]:
    n = len(y)
    mean = sum(y) / n
    mr = [abs(y[i] - y[i - 1]) for i in range(1, n)]
    amr = sum(mr) / len(mr)
    kept = [m for m in mr if m < 3.267 * amr]
    amr = sum(kept) / len(kept) if kept else float("nan")
    upl, lpl = mean + 2.66 * amr, mean - 2.66 * amr
    nupl, nlpl = mean + 2 * (2.66 / 3) * amr, mean - 2 * (2.66 / 3) * amr
    outside = [v > upl or v < lpl for v in y]
    rtm = [int(np.sign(v - mean)) for v in y]
    close = [not o and (v < nlpl or v > nupl) for v, o in zip(y, outside, strict=True)]
    vp = [0] * 6 + rtm
    one_side = [
        float(all(vp[i] == vp[i - k] for k in range(1, 7)) and vp[i] != 0) for i in range(6, n + 6)
    ]

    def part_of(v: list[float]) -> list[int]:
        p = v + [0] * 6
        return [int(any(abs(p[i + k]) == 1 for k in range(7))) for i in range(n)]

    trend = [0.0] * n
    for i in range(6, n):
        d = [np.sign(y[i - k] - y[i - k - 1]) for k in range(6)]
        trend[i] = 1.0 if all(x == 1 for x in d) else (-1.0 if all(x == -1 for x in d) else 0.0)
    cp = [0, 0, *[int(c) for c in close], 0, 0]
    rp = [0, 0, *rtm, 0, 0]
    two3 = [
        int(
            any(
                sum(cp[i + a : i + a + 3]) >= 2 and abs(sum(rp[i + a : i + a + 3])) == 3
                for a in range(3)
            )
        )
        for i in range(n)
    ]
    part_trend, part_side = part_of(trend), part_of(one_side)
    part_two3 = [int(t == 1 and c) for t, c in zip(two3, close, strict=True)]
    sdy = [np.sign(y[i + 1] - y[i]) for i in range(n - 1)]
    out = []
    for i in range(n):
        right = part_trend[i] and i + 1 < n and part_trend[i + 1]
        s = sdy[i] if right else (sdy[i - 1] if i > 0 else 0)
        if outside[i]:
            v = 1 if rtm[i] == 1 else -1
        elif part_trend[i]:
            v = 1 if s == 1 else -1
        elif part_two3[i] or part_side[i]:
            v = 1 if rtm[i] > 0 else -1
        else:
            out.append("common_cause")
            continue
        if improvement == 0:
            out.append("special_cause_neutral_high" if v > 0 else "special_cause_neutral_low")
        else:
            out.append(
                "special_cause_improvement" if v * improvement > 0 else "special_cause_concern"
            )
    return out


series_values = st.lists(st.integers(min_value=0, max_value=12), min_size=3, max_size=30)


@settings(max_examples=150, deadline=None)
@given(
    series=st.lists(series_values, min_size=1, max_size=4), improvement=st.sampled_from([1, -1, 0])
)
def test_vectorised_matches_the_r_transliteration(
    series: list[list[int]], improvement: int
) -> None:
    rows = [
        {"key": k, "date": MONTHS[i] if i < 40 else MONTHS[0], "value": float(v)}
        for k, s in enumerate(series)
        for i, v in enumerate(s)
    ]
    name = {1: "increase", -1: "decrease", 0: "neutral"}[improvement]
    out = spc_frame(pd.DataFrame(rows), by=["key"], improvement=name)
    for k, s in enumerate(series):
        got = out.loc[out["key"] == k, "point_type"].tolist()
        assert got == _r_point_types([float(v) for v in s], improvement), (k, s)


# -- means as R computes them; missing values ----------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    value=st.decimals(min_value=-1000, max_value=1000, places=3, allow_nan=False),
    n=st.integers(min_value=1, max_value=200),
)
def test_mean_of_equal_decimals_is_exactly_that_decimal(value: Decimal, n: int) -> None:
    v = float(value)
    got = r_mean(np.full(n, v), np.zeros(n, dtype=int))
    assert (got == v).all()


def test_r_mean_matches_r_on_known_values() -> None:
    """R: mean(rep(97.3, 12)) == 97.3 and mean(c(0.1, 0.2, 0.3)) == 0.2 (TRUE in R 4.2.2)."""
    assert r_mean(np.full(12, 97.3), np.zeros(12, dtype=int))[0] == 97.3
    assert sum([97.3] * 12) / 12 != 97.3  # the plain float mean is an ulp off
    assert r_mean(np.array([0.1, 0.2, 0.3]), np.zeros(3, dtype=int))[0] == 0.2
    # Missing values are left out (na.rm = TRUE); a segment with none is NaN.
    got = r_mean(np.array([1.0, np.nan, 3.0, np.nan]), np.array([0, 0, 0, 1]))
    assert got[:3].tolist() == [2.0, 2.0, 2.0] and np.isnan(got[3])


def test_r_mean_ragged_segments_match_one_at_a_time() -> None:
    """One long series among many short ones takes the other (sparse) path: same answers."""
    rng = np.random.default_rng(3)
    seg = np.concatenate([np.zeros(3000, dtype=int), np.repeat(np.arange(1, 201), 10)])
    x = np.round(rng.normal(50, 3, len(seg)), 1)
    x[rng.integers(0, len(seg), 100)] = np.nan
    together = r_mean(x, seg)
    alone = np.concatenate(
        [r_mean(x[seg == k], np.zeros(int((seg == k).sum()), dtype=int)) for k in range(201)]
    )
    assert np.array_equal(together, alone, equal_nan=True)


def test_missing_value_kept_with_no_moving_range_across_the_gap() -> None:
    y = [5.0, 6.0, 5.0, 6.0, np.nan, 30.0, 31.0, 30.0, 31.0, 30.0, 31.0, 30.0, 31.0]
    out = spc(MONTHS[:13], y, screen_outliers=False)
    assert len(out) == 13 and np.isnan(out["value"].iloc[4])
    known = [v for v in y if not np.isnan(v)]
    assert out["mean"].iloc[0] == pytest.approx(sum(known) / len(known))
    # Every moving range is 1: the 6 -> 30 jump spans the gap and is not taken.
    assert out["upl"].iloc[0] == pytest.approx(sum(known) / len(known) + 2.66)
    assert out["point_type"].iloc[4] == "common_cause"
    assert not out["short_group_warning"].any()  # 13 rows, the gap counted, as n() counts it


def test_a_gap_breaks_a_run_on_one_side_of_the_mean() -> None:
    base = [10.0, 11.0, 10.0, 11.0, 10.0, 11.0, 10.0]
    high = [14.0, 15.0, 14.0, 15.0, 14.0, 15.0, 14.0]
    run = spc(MONTHS[:14], base + high, screen_outliers=False)
    assert run["special_cause_type"].iloc[-1] == "7 Points Above CL"
    gap = spc(MONTHS[:14], base + high[:3] + [np.nan] + high[4:], screen_outliers=False)
    assert "7 Points Above CL" not in gap["special_cause_type"].tolist()
