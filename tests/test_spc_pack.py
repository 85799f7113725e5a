"""A pack's SPC chart draws a missing value as NHSRplotthedots does: a gap, no dot."""

from __future__ import annotations

import re

import pandas as pd

from wardprog.reports.diagnostic_pack import spc_svg
from wardprog.rules.spc import spc
from wardprog.services.spc_points import chart_point


def _metric(values: list[float | None]) -> dict[str, object]:
    months = pd.date_range("2024-01-01", periods=len(values), freq="MS")
    chart = spc(months, [float("nan") if v is None else v for v in values])
    points = [
        chart_point(m.strftime("%Y-%m"), r)
        for m, r in zip(months, chart.to_dict("records"), strict=True)
    ]
    return {"label": "Falls", "target": None, "points": points}


def test_gap_splits_the_line_and_has_no_dot() -> None:
    svg = str(spc_svg(_metric([3, 4, 3, None, 5, 4, 3, 4])))
    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 7
    assert "2024-04" not in re.findall(r"<title>([^:]*):", svg)


def test_no_gap_one_line() -> None:
    svg = str(spc_svg(_metric([3, 4, 3, 5, 4])))
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 5


def test_missing_first_and_last_values() -> None:
    svg = str(spc_svg(_metric([None, 4, 3, 5, None])))
    assert svg.count("<polyline") == 1 and svg.count("<circle") == 3
