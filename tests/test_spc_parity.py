"""Parity with NHSRplotthedots on a recorded corpus of a few thousand generated cases.

``tests/fixtures/spc_parity/cases.json.gz`` holds each case's inputs and the package's answers,
recorded by running it in R (``tools/spc_parity/generate.py``; R is not needed here). Every field
of every point is compared: mean and limits bit for bit, the point's place against the mean and
limits, the rule that fired, the point type, the short-segment (trial limits) flag, the rebase
group, and per segment the variation and assurance icons.

The package reports NA where we report a plain value, and the two are compared as equal: for a
missing value, or limits that are undefined (a constant segment), ``outside_limits`` and
``close_to_limits`` are NA there and False here, and a missing value's ``relative_to_mean`` is
NA there and 0 (on neither side) here. Where the package stops with an error (a missing value
inside what would otherwise be a 7-point trend: ``if (all(d == 1))`` meets NA), the case is
charted here with the gap breaking the trend, and checked for that.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wardprog.rules.spc import spc_frame, variation_icon

CORPUS = Path(__file__).parent / "fixtures" / "spc_parity" / "cases.json.gz"


@lru_cache
def corpus() -> dict[str, Any]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


FIELDS = (
    "value",
    "mean",
    "lpl",
    "upl",
    "rebase_group",
    "outside_limits",
    "close_to_limits",
    "relative_to_mean",
    "special_cause_type",
    "point_type",
    "short_group_warning",
    "variation_icon",
    "assurance_icon",
)


@lru_cache
def charted() -> dict[int, dict[str, list[Any]]]:
    """Every case charted here, cases sharing options in one ``spc_frame`` call (as packs do).

    Returns each case's chart as plain lists, one per output column.
    """
    data = corpus()
    months = pd.date_range(data["start"], periods=120, freq="MS").to_numpy()
    batches: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for case in data["cases"]:
        batches[(case["fix_after"], case["screen_outliers"], tuple(case["rebase"]))].append(case)
    out: dict[int, dict[str, list[Any]]] = {}
    for (fix_after, screen, rebase), cases in batches.items():
        sizes = [len(c["values"]) for c in cases]
        frame = pd.DataFrame(
            {
                "case": np.repeat([c["id"] for c in cases], sizes),
                "date": np.concatenate([months[:k] for k in sizes]),
                "value": [np.nan if v is None else v for c in cases for v in c["values"]],
                "improvement": np.repeat([c["improvement"] for c in cases], sizes),
                "target": np.repeat(
                    [np.nan if c["target"] is None else c["target"] for c in cases], sizes
                ),
            }
        )
        chart = spc_frame(
            frame,
            by=["case"],
            improvement_col="improvement",
            target_col="target",
            rebase=list(rebase),
            fix_after_n_points=fix_after,
            screen_outliers=screen,
        )
        columns = {
            f: (chart[f].astype(object) if f.endswith("icon") else chart[f]).tolist()
            for f in FIELDS
        }
        columns["special_cause_type"] = [str(v) for v in columns["special_cause_type"]]
        columns["point_type"] = [str(v) for v in columns["point_type"]]
        ids = chart["case"].to_numpy()
        bounds = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1], True])
        for lo, hi in itertools.pairwise(bounds):
            out[int(ids[lo])] = {f: col[lo:hi] for f, col in columns.items()}
    return out


def _same_number(a: float, b: float | None) -> bool:
    if b is None:
        return math.isnan(a)
    return a == b or (math.isnan(a) and math.isnan(b))


def _mismatches(case: dict[str, Any], got: dict[str, list[Any]]) -> list[str]:
    exp = case["expected"]
    problems: list[str] = []

    def check(field: str, ours: list[Any], theirs: list[Any], same: Any = None) -> None:
        if same is None and ours == theirs:
            return
        eq = same or (lambda a, b: a == b)
        if len(ours) != len(theirs):
            problems.append(f"{field}: {len(ours)} points here, {len(theirs)} in R")
            return
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            if not eq(a, b):
                problems.append(f"{field}[{i}]: {a!r} here, {b!r} in R")
                return

    check("value", got["value"], case["values"], _same_number)
    for field in ("mean", "lpl", "upl"):
        check(field, got[field], exp[field], _same_number)
    check("rebase_group", got["rebase_group"], exp["rebase_group"])
    check("outside_limits", got["outside_limits"], [bool(v) for v in exp["outside_limits"]])
    check("close_to_limits", got["close_to_limits"], [bool(v) for v in exp["close_to_limits"]])
    check(
        "relative_to_mean",
        got["relative_to_mean"],
        [0 if v is None else int(v) for v in exp["relative_to_mean"]],
    )
    check("special_cause_type", got["special_cause_type"], exp["special_cause_type"])
    check("point_type", got["point_type"], exp["point_type"])
    check("short_group_warning", got["short_group_warning"], exp["short_group_warning"])
    if any(got["short_group_warning"]) != exp["trial_limits_warning"]:
        problems.append(f"trial limits warning: R {exp['trial_limits_warning']}")

    # Per segment (NHSRplotthedots' summary()): the last point of each rebase group.
    groups = got["rebase_group"]
    last = [i for i in range(len(groups)) if i + 1 == len(groups) or groups[i + 1] != groups[i]]
    seg = exp["segments"]
    check("segments", [groups[i] for i in last], seg["rebase_group"])
    check("segment n", [b - a for a, b in zip([-1, *last[:-1]], last, strict=True)], seg["n"])
    check("variation_type", [got["point_type"][i] for i in last], seg["variation_type"])
    check(
        "variation_icon",
        [got["variation_icon"][i] for i in last],
        [variation_icon(v, case["improvement"]) for v in seg["variation_type"]],
    )
    check(
        "assurance_type",
        [v if isinstance(v, str) else None for v in (got["assurance_icon"][i] for i in last)],
        seg["assurance_type"],
    )
    return problems


def test_corpus_is_a_few_thousand_cases_of_every_kind() -> None:
    cases = corpus()["cases"]
    assert len(cases) >= 2000
    kinds = {c["kind"].split("+")[0] for c in cases}
    assert {"integer", "dp1", "dp2", "dp3", "constant", "ties", "trend", "shift"} <= kinds
    assert sum("+gaps" in c["kind"] for c in cases) >= 100
    assert sum(bool(c["rebase"]) for c in cases) >= 300
    assert sum(c["fix_after"] is not None for c in cases) >= 100
    assert sum(not c["screen_outliers"] for c in cases) >= 300


def test_every_field_of_every_case_matches_nhsrplotthedots() -> None:
    charts = charted()
    failures = {}
    compared = 0
    for case in corpus()["cases"]:
        if "expected" not in case:
            continue
        compared += 1
        problems = _mismatches(case, charts[case["id"]])
        if problems:
            failures[(case["id"], case["kind"])] = problems[:3]
    assert compared >= 0.9 * len(corpus()["cases"])
    assert not failures, (
        f"{len(failures)} of {compared} cases differ: {list(failures.items())[:10]}"
    )


def test_where_the_package_stops_a_gap_breaks_the_trend() -> None:
    charts = charted()
    stopped = [c for c in corpus()["cases"] if "r_error" in c]
    for case in stopped:
        assert "missing value where TRUE/FALSE needed" in case["r_error"], case["id"]
        got = charts[case["id"]]
        gaps = [i for i, v in enumerate(got["value"]) if math.isnan(v)]
        assert gaps, case["id"]
        assert {got["special_cause_type"][i] for i in gaps} == {"Common Cause"}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # The constant series: 12 months at 97.3%, increase is better, target 95.
        ([97.3] * 12, ["common_cause"] * 12),
        # Mean exactly 99.8: a float sum / n gives 99.79999999999998, which puts the points at
        # 99.8 above it, so the first 7 become "7 Points Above CL" or "2 in 3 Above CL".
        (
            [99.9, 99.9, 99.8, 99.9, 99.9, 99.8, 99.8, 99.7, 99.7, 99.8, 99.7, 99.7, 99.8, 99.8],
            ["common_cause"] * 14,
        ),
    ],
)
def test_points_exactly_on_a_decimal_mean_are_on_neither_side(
    values: list[float], expected: list[str]
) -> None:
    months = pd.date_range("2020-01-01", periods=len(values), freq="MS")
    chart = spc_frame(pd.DataFrame({"date": months, "value": values}), target=95)
    assert chart["point_type"].astype(str).tolist() == expected
    assert chart["mean"].iloc[0] == (97.3 if len(set(values)) == 1 else 99.8)
    on_mean = chart["value"] == chart["mean"]
    assert on_mean.any()
    assert (chart.loc[on_mean, "relative_to_mean"] == 0).all()
