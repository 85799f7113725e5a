"""One Making Data Count chart row as the pages, packs and scorecard draw it.

A project's measure chart and the programme scorecard's KPI charts plot the same XmR rows: the
point, its limits, its rebase group and why it is special cause, and the last row's icons.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import pandas as pd

from wardprog.rules.spc import figure


def chart_point(month: str, row: Mapping[Hashable, Any]) -> dict[str, Any]:
    """One ``spc`` row as a chart point (numbers rounded, NaN as None)."""
    return {
        "month": month,
        "value": figure(row["value"]),
        "mean": figure(row["mean"]),
        "lpl": figure(row["lpl"]),
        "upl": figure(row["upl"]),
        "rebase_group": int(row["rebase_group"]),
        "point_type": str(row["point_type"]),
        "rule": str(row["special_cause_type"]),
    }


# What a chart point reads of an ``spc`` row (about 30 columns): read only these, with
# :func:`records`.
POINT_COLUMNS = [
    "value",
    "mean",
    "lpl",
    "upl",
    "rebase_group",
    "point_type",
    "special_cause_type",
]


def records(frame: pd.DataFrame, columns: list[str]) -> list[dict[Hashable, Any]]:
    """``frame[columns].to_dict("records")``, column by column: a chart of twenty rows spends
    most of ``to_dict``'s time in its per-call set-up."""
    values = [frame[c].tolist() for c in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]


def chart_icons(last: Any) -> dict[str, str | None]:
    """The variation and assurance icons of a chart's last row (None where there is none)."""
    return {
        name: last[name] if isinstance(last[name], str) else None
        for name in ("variation_icon", "assurance_icon")
    }
