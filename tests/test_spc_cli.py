"""`wardprog spc`: rule names, trial-limit warnings, missing values, --fix-after and screening."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from wardprog.cli import app as wardprog_app
from wardprog.cli.diagnostics import spc_points


@pytest.fixture
def app() -> typer.Typer:
    """The real `wardprog` app, as the console script runs it."""
    return wardprog_app


def _csv(tmp_path: Path, values: Sequence[float | None], name: str = "series.csv") -> Path:
    path = tmp_path / name
    months = pd.date_range("2023-01-01", periods=len(values), freq="MS").strftime("%Y-%m-%d")
    lines = [
        "Month,Value",
        *(f"{m},{'' if v is None else v}" for m, v in zip(months, values, strict=True)),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _run(app: typer.Typer, path: Path, *extra: str) -> tuple[list[dict[str, Any]], str]:
    result = CliRunner().invoke(
        app, ["spc", str(path), "--date-column", "Month", "--value-column", "Value", *extra]
    )
    assert result.exit_code == 0, result.output
    if "--json" in extra:
        return [json.loads(line) for line in result.stdout.splitlines()], result.stderr
    return [], result.stdout + result.stderr


def test_constant_decimal_series_is_common_cause(app: typer.Typer, tmp_path: Path) -> None:
    """The issue's case: 12 months at 97.3%, increase is better, target 95."""
    points, err = _run(app, _csv(tmp_path, [97.3] * 12), "--target", "95", "--json")
    assert {p["point_type"] for p in points} == {"common_cause"}
    assert {p["special_cause_type"] for p in points} == {"Common Cause"}
    assert points[-1]["variation_icon"] == "common_cause"
    assert points[0]["mean"] == 97.3
    # 12 points: trial limits, flagged per point and warned once on stderr.
    assert all(p["short_segment"] for p in points)
    warnings = [line for line in err.splitlines() if "trial limits" in line]
    assert len(warnings) == 1 and "fewer than 13 points" in warnings[0]


def test_rule_names_and_no_warning_for_long_segments(app: typer.Typer, tmp_path: Path) -> None:
    values = [10, 12, 11, 9, 10, 11, 12, 10, 9, 11, 10, 12, 11, 14, 15, 16, 17, 18, 19, 20]
    points, err = _run(app, _csv(tmp_path, values), "--json")
    types = [p["special_cause_type"] for p in points]
    assert types[12:15] == ["7 Point Trend (Increasing)"] * 3
    assert types[-1] == "Above UCL"  # outside a limit takes precedence over the trend
    assert types[0] == "7 Points Below CL"  # the first 12 are below the mean, 12.85
    assert not any(p["short_segment"] for p in points)
    assert "trial limits" not in err


def test_missing_values_are_charted_with_no_moving_range_across_the_gap(
    app: typer.Typer, tmp_path: Path
) -> None:
    values: list[float | None] = [5, 6, 5, 6, None, 30, 31, 30, 31, 30, 31, 30, 31, 30]
    points, _ = _run(app, _csv(tmp_path, values), "--no-screen-outliers", "--json")
    assert len(points) == 14
    assert points[4]["value"] is None and points[4]["point_type"] == "common_cause"
    # Moving ranges: 1, 1, 1 (before the gap), 1 x 8 (after it); none across the jump.
    known = [v for v in values if v is not None]
    mean = sum(known) / len(known)
    assert points[0]["mean"] == pytest.approx(mean)
    assert points[0]["upl"] == pytest.approx(mean + 2.66 * 1.0)


def test_no_screen_outliers_widens_the_limits(app: typer.Typer, tmp_path: Path) -> None:
    values = [10, 11, 10, 11, 10, 11, 10, 40, 10, 11, 10, 11, 10, 11]
    path = _csv(tmp_path, values)
    screened, _ = _run(app, path, "--json")
    unscreened, _ = _run(app, path, "--no-screen-outliers", "--json")
    assert unscreened[0]["upl"] > screened[0]["upl"]


def test_fix_after_fixes_the_limits(app: typer.Typer, tmp_path: Path) -> None:
    values = [5, 6] * 6 + [20, 21, 22]
    points, _ = _run(app, _csv(tmp_path, values), "--fix-after", "12", "--json")
    assert points[-1]["mean"] == 5.5
    assert [p["special_cause_type"] for p in points[-3:]] == ["Above UCL"] * 3


def test_fix_after_below_12_is_refused(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "spc",
            str(_csv(tmp_path, [1, 2, 3])),
            "--date-column",
            "Month",
            "--value-column",
            "Value",
            "--fix-after",
            "6",
        ],
    )
    assert result.exit_code == 2


def test_rebase_between_points_is_noted(app: typer.Typer, tmp_path: Path) -> None:
    path = _csv(tmp_path, list(range(30)))
    points, err = _run(app, path, "--rebase", "2023-06-14", "--rebase", "2030-01-01", "--json")
    assert points[5]["mean"] != points[6]["mean"]  # new limits from 2023-07-01
    assert "rebase date 2023-06-14 is not in the data" in err
    assert "next point, 2023-07-01" in err
    assert "2030-01-01 is not in the data: it is after the last point" in err
    _, in_data = _run(app, path, "--rebase", "2023-07-01", "--json")
    assert "not in the data" not in in_data


def test_table_shows_the_rule(app: typer.Typer, tmp_path: Path) -> None:
    values = [10, 12, 11, 9, 10, 11, 12, 10, 9, 11, 10, 12, 11, 14, 15, 16, 17, 18, 19, 20]
    _, out = _run(app, _csv(tmp_path, values))
    assert "7 Point Trend" in out


def test_spc_points_library_call(tmp_path: Path) -> None:
    points = spc_points(_csv(tmp_path, [1, 2, None, 4]), date_column="Month", value_column="Value")
    assert [p["value"] for p in points] == [1, 2, None, 4]
