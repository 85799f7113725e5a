"""The evaluation's hand-built pieces give exactly what the formula and pandas versions gave.

The stepped-wedge fits build their designs without patsy and mark exposure and per-wave means
on arrays; the board must report the same numbers, so each piece is checked bit for bit against
the formula or frame version it replaced.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.utils.evaluation_trust import END, EVENTS, WAVES, write_extracts
from wardprog.rules.evaluation import (
    _month_labels,
    exposure_month,
    mark_exposure,
    metric_panels,
    treatment_design,
    ward_month_bed_days,
    wave_before_after,
)
from wardprog.rules.metrics import month_start, ward_month_metrics
from wardprog.sources.extracts import load_folder

START = date(2024, 1, 1)


@pytest.fixture(scope="module")
def panels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    folder: Path = write_extracts(tmp_path_factory.mktemp("extracts"))
    tables = load_folder(folder, use_cache=False).tables
    metrics = ward_month_metrics(tables, START, END)
    return metric_panels(metrics, EVENTS, ward_month_bed_days(tables["census"]))


def _frame(panel: pd.DataFrame, lag: int = 0) -> pd.DataFrame:
    data = mark_exposure(panel, lag).dropna(subset=["value"])
    return data.assign(month=_month_labels(data["month"]), ward=data["ward"].astype(str))


@pytest.mark.parametrize(
    ("formula", "factors"),
    [("value ~ exposed + C(month)", ["month"]), ("value ~ exposed + C(month) + C(ward)", None)],
)
def test_design_is_patsys(
    panels: dict[str, pd.DataFrame], formula: str, factors: list[str] | None
) -> None:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf

    frame = _frame(panels["sickness_pct"])
    by_formula = smf.glm(formula, frame, family=sm.families.Gaussian())
    ours = sm.GLM(
        frame["value"],
        treatment_design(frame, factors or ["month", "ward"]),
        sm.families.Gaussian(),
    )
    assert ours.exog_names == by_formula.exog_names
    assert np.array_equal(ours.exog, by_formula.exog)
    assert ours.exog.flags["F_CONTIGUOUS"] == by_formula.exog.flags["F_CONTIGUOUS"]


def test_poisson_fit_is_the_formulas(panels: dict[str, pd.DataFrame]) -> None:
    import statsmodels.api as sm
    import statsmodels.formula.api as smf
    from threadpoolctl import threadpool_limits

    from wardprog.rules.evaluation import evaluate_panel

    data = mark_exposure(panels["falls_per_1000_obd"])
    data = data.loc[data["bed_days"].fillna(0) > 0].dropna(subset=["events"])
    frame = data.assign(month=_month_labels(data["month"]), ward=data["ward"].astype(str))
    groups = pd.factorize(frame["ward"])[0]
    with threadpool_limits(limits=1, user_api="blas"):  # as evaluate_panel fits
        result = smf.glm(
            "events ~ exposed + C(month) + C(ward)",
            frame,
            family=sm.families.Poisson(),
            offset=np.log(frame["bed_days"].astype(float)),
        ).fit(cov_type="cluster", cov_kwds={"groups": groups})
    est = evaluate_panel(panels["falls_per_1000_obd"], metric="falls_per_1000_obd")
    assert est.rate_ratio == round(math.exp(float(result.params["exposed"])), 6)
    assert est.p_value == float(result.pvalues["exposed"])


@pytest.mark.parametrize("lag", [0, 2])
def test_exposure_is_the_calendar_offset(panels: dict[str, pd.DataFrame], lag: int) -> None:
    panel = panels["sickness_pct"]
    month = month_start(pd.to_datetime(panel["month"]))
    first = exposure_month(panel["start"], lag)
    exposed = (first.notna() & (month >= first)).astype(int)
    transition = exposure_month(panel["start"], 0)
    kept = ~(transition.notna() & (month >= transition) & (exposed == 0)) if lag else exposed >= 0
    marked = mark_exposure(panel, lag)
    assert marked.index.equals(panel.index[kept.to_numpy()])
    assert marked["exposed"].equals(exposed[kept])


def test_wave_means_are_series_means(panels: dict[str, pd.DataFrame]) -> None:
    panel = panels["sickness_pct"]
    table = wave_before_after(panel, WAVES, window=6)
    data = panel.dropna(subset=["value"]).loc[lambda f: f["start"].notna()]
    month, event = month_start(data["month"]), month_start(data["start"])
    offset = (month.dt.year - event.dt.year) * 12 + (month.dt.month - event.dt.month)
    wave = data["ward"].map(WAVES)
    for row in table.to_dict("records"):
        before = data.loc[(wave == row["wave"]) & (offset >= -6) & (offset < 0), "value"]
        after = data.loc[(wave == row["wave"]) & (offset >= 1) & (offset <= 6), "value"]
        before_mean, after_mean = row["before_mean"], row["after_mean"]
        assert before_mean == before.mean() or (math.isnan(before_mean) and before.empty)
        assert after_mean == after.mean() or (math.isnan(after_mean) and after.empty)
