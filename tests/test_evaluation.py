"""The stepped-wedge evaluation recovers a known programme effect from generated extracts.

A small trust (12 wards, 30 months, three waves of three and three wards not yet joined) is
generated with a seeded programme effect on falls and sickness, none elsewhere and no random
ward-level step changes (they would confound the truth we compare with): the estimate's 95% CI
must cover the injected effect and exclude zero where there is one, and cover zero where there
is none.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.utils.evaluation_trust import (
    END,
    EVENTS,
    FALLS,
    SICKNESS,
    WARDS,
    WAVES,
    write_extracts,
)
from tests.utils.evaluation_trust import exposure_start as _exposure_start
from wardprog.rules.evaluation import (
    METHOD_MIXED,
    METHOD_POISSON,
    Estimate,
    evaluate_metrics,
    evaluate_panel,
    mark_exposure,
    metric_panels,
    plain_english,
    reml_start,
    ward_month_bed_days,
    wave_before_after,
)
from wardprog.rules.metrics import ward_month_metrics
from wardprog.sources.extracts import load_folder
from wardprog.sources.synthetic import KnownEffects, generate_extracts

START = date(2024, 1, 1)


@pytest.fixture(scope="module")
def trust(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder: Path = write_extracts(tmp_path_factory.mktemp("extracts"))
    tables = load_folder(folder, use_cache=False).tables
    return ward_month_metrics(tables, START, END), ward_month_bed_days(tables["census"])


@pytest.fixture(scope="module")
def estimates(trust: tuple[pd.DataFrame, pd.DataFrame]) -> dict[str, Estimate]:
    metrics, bed_days = trust
    return evaluate_metrics(metric_panels(metrics, EVENTS, bed_days))


def test_recovers_injected_fall_rate_ratio(estimates: dict[str, Estimate]) -> None:
    falls = estimates["falls_per_1000_obd"]
    assert falls.method == METHOD_POISSON
    assert falls.rr_low is not None and falls.rr_high is not None
    assert falls.rr_low <= FALLS <= falls.rr_high
    assert falls.rr_high < 1  # excludes no change
    assert falls.ci_high is not None and falls.ci_high < 0 and falls.significant
    assert falls.wards == 12 and falls.observations == 12 * 30
    assert falls.exposed_observations == sum(
        len(pd.date_range(_exposure_start(d), END, freq="MS")) for d in EVENTS.values()
    )


def test_recovers_injected_sickness_effect(
    trust: tuple[pd.DataFrame, pd.DataFrame], estimates: dict[str, Estimate]
) -> None:
    metrics, _ = trust
    est = estimates["sickness_pct"]
    assert est.method == METHOD_MIXED
    # The truth on the treated: each exposed ward-month's value less what it would have been.
    rows = metrics.loc[metrics["metric"] == "sickness_pct"]
    start = rows["ward_code"].map({c: pd.Timestamp(_exposure_start(d)) for c, d in EVENTS.items()})
    exposed = rows.loc[start.notna() & (rows["month"] >= start)]
    truth = float((exposed["value"] - exposed["value"] / SICKNESS).mean())
    assert est.ci_low is not None and est.ci_high is not None
    assert est.ci_low <= truth <= est.ci_high
    assert est.ci_high < 0
    assert "lower after wards join the programme (an improvement)" in plain_english(est)


@pytest.mark.parametrize("metric", ["vacancy_pct", "rn_day_fill_pct", "complaints"])
def test_no_effect_where_none_was_injected(estimates: dict[str, Estimate], metric: str) -> None:
    est = estimates[metric]
    assert est.estimable, est.reason
    assert est.ci_low is not None and est.ci_high is not None
    assert est.ci_low <= 0 <= est.ci_high
    assert "no clear change" in plain_english(est)


def test_the_same_seed_gives_the_same_estimate(
    trust: tuple[pd.DataFrame, pd.DataFrame], estimates: dict[str, Estimate]
) -> None:
    metrics, bed_days = trust
    again = evaluate_panel(
        metric_panels(metrics, EVENTS, bed_days)["sickness_pct"], metric="sickness_pct"
    )
    assert again == estimates["sickness_pct"]


def test_lag_moves_exposure_later(trust: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    metrics, _ = trust
    panel = metric_panels(metrics, EVENTS)["sickness_pct"]
    lagged = evaluate_panel(panel, lag=2, metric="sickness_pct")
    assert lagged.lag == 2
    plain = evaluate_panel(panel)
    # Two transition months per joined ward (nine wards) leave the comparison altogether.
    assert lagged.exposed_observations == plain.exposed_observations - 2 * 9
    assert lagged.observations == plain.observations - 2 * 9


def test_says_plainly_when_the_data_cannot_answer(trust: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    metrics, _ = trust
    one_ward = {"S1-W1": date(2025, 1, 15)}
    est = evaluate_panel(metric_panels(metrics, one_ward)["sickness_pct"], metric="sickness_pct")
    assert not est.estimable and est.effect is None and est.ci_low is None
    assert "too few wards have joined: 1 ward(s)" in (est.reason or "")
    assert "cannot answer" in plain_english(est)
    nobody_left = {code: date(2023, 6, 1) for code, _s, _b in WARDS}
    est = evaluate_panel(metric_panels(metrics, nobody_left)["sickness_pct"])
    assert "too few comparison ward-months" in (est.reason or "")
    short = metrics.loc[metrics["month"] < pd.Timestamp("2024-03-01")]
    est = evaluate_panel(metric_panels(short, EVENTS)["sickness_pct"])
    assert "only 2 month(s) of data" in (est.reason or "")


def test_wave_before_and_after(trust: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    metrics, _ = trust
    panel = metric_panels(metrics, EVENTS)["sickness_pct"]
    table = wave_before_after(panel, WAVES)
    assert table["wave"].tolist() == [1, 2, 3]
    assert (table["wards"] == 3).all()
    assert (table["before_months"] == 6).all() and (table["after_months"] == 6).all()
    assert np.isfinite(table["change"]).all()
    assert table["change"].mean() < 0


def test_known_effects_change_only_what_they_name(tmp_path: Path) -> None:
    wards = WARDS[:3]
    plain = tmp_path / "plain"
    moved = tmp_path / "moved"
    generate_extracts(wards, plain, START, END, seed=5)
    effects = KnownEffects({"falls": 0.5}, {"S1-W1": date(2025, 1, 1)})
    generate_extracts(wards, moved, START, END, seed=5, effects=effects)
    # Tables drawn before the falls are the same; later draws follow another random path.
    for name in ("workforce", "safe_staffing", "census"):
        assert (plain / f"{name}.csv").read_bytes() == (moved / f"{name}.csv").read_bytes()
    written = pd.read_csv(moved / "_synthetic_effects.csv")
    assert written.to_dict("records") == [
        {
            "ward_code": "S1-W1",
            "family": "falls",
            "metrics": "falls_per_1000_obd",
            "from_month": "2025-01-01",
            "factor": 0.5,
        }
    ]
    with pytest.raises(ValueError, match="unknown metric family"):
        KnownEffects({"morale": 1.1})


@pytest.mark.parametrize("metric", ["sickness_pct", "vacancy_pct", "rn_day_fill_pct", "complaints"])
def test_mixed_fit_starts_at_the_reml_optimum(
    trust: tuple[pd.DataFrame, pd.DataFrame], metric: str
) -> None:
    """The exact one-parameter REML start: statsmodels from its own default start never finds a
    higher restricted likelihood; where it reaches the same optimum the two agree on the effect
    and its standard error. (Where the ward variance is nil, as for RN day fill here, its
    gradient search can stop short of the boundary: the warm start is the better fit.)"""
    import statsmodels.formula.api as smf

    metrics, _ = trust
    data = mark_exposure(metric_panels(metrics, EVENTS)[metric]).dropna(subset=["value"])
    frame = data.assign(month=data["month"].dt.strftime("%Y-%m"))
    model = smf.mixedlm("value ~ exposed + C(month)", frame, groups=frame["ward"])
    start = reml_start(model.exog, model.endog, pd.factorize(frame["ward"])[0])
    assert start is not None
    warm, default = model.fit(reml=True, start_params=start), model.fit(reml=True)
    assert warm.converged
    assert evaluate_panel(metric_panels(metrics, EVENTS)[metric], metric=metric).effect == (
        pytest.approx(warm.params["exposed"], abs=1e-9)
    )
    assert warm.llf >= default.llf - 1e-6
    if warm.llf <= default.llf + 1e-6:
        assert warm.params["exposed"] == pytest.approx(default.params["exposed"], abs=1e-4)
        assert warm.bse["exposed"] == pytest.approx(default.bse["exposed"], rel=1e-3)
