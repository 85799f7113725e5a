"""Is the programme working? A stepped-wedge evaluation of ward metrics across waves.

The rollout adds a wave of wards each quarter, so in any month some wards have had their
engagement event and some have not yet: a stepped-wedge design (Hussey & Hughes 2007; Hemming
et al., BMJ 2015). Comparing exposed with not-yet-exposed ward-months *in the same month* removes
season and trust-wide trend, which a single ward's before/after re-check cannot.

* Continuous metrics (fill rates, sickness, FFT...): a linear mixed model
  ``value ~ exposed + C(month) + (1 | ward)`` (statsmodels ``MixedLM``, REML): month fixed effects
  for the secular trend and season, a random intercept per ward for its own level.
* Rates per 1,000 occupied bed days (falls, pressure ulcers): statsmodels has no frequentist
  Poisson GLMM, so a Poisson GLM of the event counts with the log of bed days as offset, month
  and ward fixed effects, and standard errors clustered by ward (robust to overdispersion).
  Its rate ratio is turned into a change per 1,000 bed days at the unexposed rate, so the board
  reads every effect in the metric's own units.

``exposed`` is 1 from the month after the ward's engagement event (the event month itself is
part before, part after, and counts as before), or ``lag`` months later still: changes take time
to show, and those transition months are left out of the comparison.

When the data cannot answer (too few wards on either side, too few months where both exist,
a fit that does not converge) the result carries a plain reason and no number. Pure: pandas and
statsmodels, no I/O.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from wardprog.errors import WardprogError
from wardprog.rules.metrics import METRICS_BY_KEY, month_start

# The smallest panel worth a model: fewer and the interval is noise or the fit is unidentified.
MIN_EXPOSED_WARDS = 2
MIN_UNEXPOSED_WARDS = 2
MIN_MONTHS = 3
# Months in which exposed and not-yet-exposed wards are both observed: the design's contrast.
MIN_CONTRAST_MONTHS = 2
# The per-wave view: mean of each metric in this many months before and after joining.
WAVE_WINDOW_MONTHS = 6
Z_95 = 1.959963984540054

# Rate metrics and their denominators: (count column the rate is made of, rate multiplier).
RATE_METRICS: dict[str, float] = {
    "falls_per_1000_obd": 1000.0,
    "pressure_ulcers_per_1000_obd": 1000.0,
}

METHOD_MIXED = "mixedlm: value ~ exposed + C(month) + (1 | ward), REML"
METHOD_POISSON = (
    "poisson glm: events ~ exposed + C(month) + C(ward), offset log(bed days), "
    "ward-clustered SE; effect = change per 1,000 bed days at the unexposed rate"
)

PANEL_COLUMNS = ["ward", "month", "value", "start"]


class EvaluationError(WardprogError):
    """The evaluation cannot be estimated from this data; the message says why."""


@dataclass(frozen=True)
class Estimate:
    """One metric's stepped-wedge estimate, or the reason there is none (``reason`` set)."""

    effect: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    wards: int
    observations: int
    exposed_observations: int
    method: str
    lag: int = 0
    metric: str | None = None
    reason: str | None = None
    # Rates only: the fitted rate ratio and its 95% CI (1.0 is no change).
    rate_ratio: float | None = None
    rr_low: float | None = None
    rr_high: float | None = None
    unexposed_rate: float | None = None

    @property
    def estimable(self) -> bool:
        return self.reason is None

    @property
    def significant(self) -> bool:
        """The 95% CI excludes zero."""
        if self.ci_low is None or self.ci_high is None:
            return False
        return self.ci_low > 0 or self.ci_high < 0

    def contract(self) -> dict[str, Any]:
        """The ``wardprog evaluate --json`` object (the keys other tools rely on)."""
        keys = ("effect", "ci_low", "ci_high", "p_value", "wards", "observations")
        out = {k: getattr(self, k) for k in keys}
        out["exposed_observations"] = self.exposed_observations
        out["method"] = self.method
        return out

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- panel --------------------------------------------------------------------------------------


def exposure_month(start: pd.Series, lag: int = 0) -> pd.Series:
    """The first exposed month for each engagement date (NaT for a ward not yet joined)."""
    first = month_start(pd.to_datetime(start))
    return first + pd.DateOffset(months=1 + lag)


def mark_exposure(panel: pd.DataFrame, lag: int = 0) -> pd.DataFrame:
    """``panel`` (ward, month, value, start[, events, bed_days]) with ``exposed`` 0/1 added.

    ``month`` is normalised to the first of the month; a ward with no ``start`` is unexposed in
    every month. With a ``lag`` the ``lag`` months after the event month are a transition and
    are left out: counting them as unexposed would dilute the comparison with changes already
    under way.
    """
    if lag < 0:
        raise EvaluationError(f"lag must be 0 or more months, not {lag}")
    out = panel.copy()
    out["month"] = month_start(pd.to_datetime(out["month"]))
    # What `exposure_month` says, in whole months since 1970: a month is exposed from the
    # event's month + 1 + lag (NaT, a ward not yet joined, is never exposed).
    month, event = _month_numbers(out["month"]), _month_numbers(out["start"])
    joined = ~np.isnan(event)
    out["exposed"] = (joined & (month >= event + 1 + lag)).astype(int)
    if lag:
        transition = joined & (month >= event + 1)
        out = out.loc[~(transition & (out["exposed"].to_numpy() == 0))]
    return out


def _month_numbers(values: pd.Series) -> np.ndarray:
    """Months since January 1970 of each date (float, NaN for a missing date)."""
    stamps = pd.to_datetime(values).to_numpy().astype("datetime64[M]")
    return np.where(np.isnat(stamps), np.nan, stamps.astype(np.int64).astype(float))


def _counts(data: pd.DataFrame) -> tuple[int, int, int]:
    return int(data["ward"].nunique()), len(data), int(data["exposed"].sum())


def _not_estimable(data: pd.DataFrame) -> str | None:
    """Why this panel cannot answer, in words a board member can read (None: it can)."""
    if data.empty:
        return "no ward-months with a value"
    # Arrays, not groupbys: this runs before every fit, and the panels are small.
    month = data["month"].to_numpy()
    ward = data["ward"].to_numpy(dtype=object)
    exposed = data["exposed"].to_numpy() == 1
    months = len(np.unique(month))
    if months < MIN_MONTHS:
        return f"only {months} month(s) of data: at least {MIN_MONTHS} are needed"
    exposed_wards = len(set(ward[exposed]))
    unexposed_wards = len(set(ward[~exposed]))
    if exposed_wards < MIN_EXPOSED_WARDS:
        return (
            f"too few wards have joined: {exposed_wards} ward(s) have months after their "
            f"engagement event (at least {MIN_EXPOSED_WARDS} are needed)"
        )
    if unexposed_wards < MIN_UNEXPOSED_WARDS:
        return (
            f"too few comparison ward-months: {unexposed_wards} ward(s) have months before "
            f"exposure (at least {MIN_UNEXPOSED_WARDS} are needed)"
        )
    # Months with both an exposed and an unexposed ward-month (``exposed`` is 0 or 1).
    contrast = len(np.intersect1d(month[exposed], month[~exposed]))
    if contrast < MIN_CONTRAST_MONTHS:
        return (
            f"only {contrast} month(s) have both joined and not-yet-joined wards: at least "
            f"{MIN_CONTRAST_MONTHS} are needed to separate the programme from the calendar"
        )
    return None


def _num(x: Any) -> float | None:
    f = float(x)
    return None if math.isnan(f) or math.isinf(f) else f


def _failed(data: pd.DataFrame, method: str, lag: int, metric: str | None, reason: str) -> Estimate:
    wards, n, n_exp = _counts(data) if not data.empty else (0, 0, 0)
    return Estimate(None, None, None, None, wards, n, n_exp, method, lag, metric, reason)


# -- models -------------------------------------------------------------------------------------


def fit_mixed(data: pd.DataFrame, *, lag: int = 0, metric: str | None = None) -> Estimate:
    """``value ~ exposed + C(month) + (1 | ward)`` on a panel already marked with ``exposed``."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    data = data.dropna(subset=["value"])
    reason = _not_estimable(data)
    if reason:
        return _failed(data, METHOD_MIXED, lag, metric, reason)
    frame = data.assign(month=_month_labels(data["month"]), ward=data["ward"].astype(str))
    groups = pd.factorize(frame["ward"])[0]
    # The ward labels as plain strings: MixedLM walks them one by one to split the panel, which
    # over an Arrow-backed column cost as much as the design (same labels, same groups).
    labels = frame["ward"].to_numpy(dtype=object)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = MixedLM(frame["value"], mixed_design(frame), groups=labels)
            # statsmodels' default optimisers, started at the exact REML optimum of the one
            # variance ratio (see `reml_start`): they confirm it and give the standard errors
            # in a few steps instead of searching from scratch (0.1-5 s a fit, 14 fits a
            # month). Powell only if they still fail to converge.
            result = model.fit(reml=True, start_params=reml_start(model.exog, model.endog, groups))
            if not result.converged:
                result = model.fit(reml=True, method=["powell", "lbfgs"])
        except (ValueError, np.linalg.LinAlgError) as exc:
            return _failed(data, METHOD_MIXED, lag, metric, f"the model could not be fitted: {exc}")
    effect, se = float(result.params["exposed"]), float(result.bse["exposed"])
    if not (math.isfinite(effect) and math.isfinite(se)) or se <= 0:
        return _failed(data, METHOD_MIXED, lag, metric, "the model did not converge")
    wards, n, n_exp = _counts(data)
    p = float(result.pvalues["exposed"])
    return Estimate(
        effect,
        effect - Z_95 * se,
        effect + Z_95 * se,
        _num(p),
        wards,
        n,
        n_exp,
        METHOD_MIXED,
        lag,
        metric,
    )


def _month_labels(months: pd.Series) -> pd.Series:
    """``months.dt.strftime("%Y-%m")``, through numpy's month strings (strftime is per value)."""
    stamps = months.to_numpy().astype("datetime64[M]")
    return pd.Series(np.datetime_as_string(stamps, unit="M"), index=months.index, dtype=object)


def mixed_design(frame: pd.DataFrame) -> pd.DataFrame:
    """The design matrix of ``value ~ exposed + C(month)``, as patsy builds it.

    Intercept, one treatment column per month after the first (sorted), then ``exposed``: the
    same columns in the same order, so the same fit, without patsy's formula machinery (a
    quarter of each fit's time).
    """
    return treatment_design(frame, ["month"])


def treatment_design(frame: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """``~ exposed + C(f1) + C(f2) ...`` as patsy builds it: the intercept, each factor's
    treatment columns (levels sorted, the first left out) in formula order, then ``exposed``.

    The same columns, values and column-major layout as patsy's, so statsmodels fits the same
    numbers from it (checked against the formula in tests/test_evaluation_design.py).
    """
    parts: list[pd.DataFrame | pd.Series] = [pd.DataFrame({"Intercept": 1.0}, index=frame.index)]
    for factor in factors:
        name = f"C({factor})"
        dummies = pd.get_dummies(frame[factor], prefix=name, prefix_sep="[T.", dtype=float)
        dummies = dummies.reindex(columns=sorted(dummies.columns)).iloc[:, 1:]
        dummies.columns = [f"{c}]" for c in dummies.columns]
        parts.append(dummies)
    parts.append(frame["exposed"].astype(float).rename("exposed"))
    return pd.concat(parts, axis=1)


# The variance ratio's search grid (random-intercept variance over residual variance): from none
# to ten thousand times, which covers any ward-level spread a ward metric has.
_RATIO_GRID = np.concatenate([[0.0], np.logspace(-6, 4, 41)])


def reml_start(exog: np.ndarray, endog: np.ndarray, groups: np.ndarray) -> Any:
    """The REML estimate of ``endog ~ exog + (1 | groups)``, as statsmodels' ``start_params``.

    With one random intercept the restricted likelihood, once the fixed effects and the residual
    variance are profiled out, depends on one number: the ratio ``g`` of the ward variance to the
    residual variance. Each ward's covariance is then ``I + g J`` (J all ones), whose inverse is
    ``I - g / (1 + n g) J``, so every quantity the likelihood needs is a correction of ``X'X``,
    ``X'y`` and ``y'y`` by per-ward sums: evaluating it costs one small solve, and a grid on the
    log scale refined by a bounded Brent search finds the optimum (the boundary ``g = 0``
    included, where statsmodels' gradient search can stop short). None when the design is
    singular: statsmodels then starts from its own default.
    """
    from scipy.optimize import minimize_scalar
    from statsmodels.regression.mixed_linear_model import MixedLMParams

    x, y = np.asarray(exog, dtype=float), np.asarray(endog, dtype=float)
    n_obs, k = x.shape
    sizes = np.bincount(groups).astype(float)
    sums = np.zeros((sizes.size, k))
    np.add.at(sums, groups, x)
    totals = np.bincount(groups, weights=y)
    xtx, xty, yty = x.T @ x, x.T @ y, float(y @ y)

    def profiled(ratio: float) -> tuple[float, np.ndarray]:
        """(-2 x the profiled REML log-likelihood less its constant, the GLS fixed effects)."""
        w = ratio / (1.0 + sizes * ratio)
        a = xtx - (sums * w[:, None]).T @ sums
        b = xty - sums.T @ (w * totals)
        beta = np.linalg.solve(a, b)
        rss = yty - float((w * totals * totals).sum()) - float(beta @ b)
        logdet = float(np.log1p(sizes * ratio).sum()) + float(np.linalg.slogdet(a)[1])
        return logdet + (n_obs - k) * math.log(rss), beta

    try:
        values = [profiled(g)[0] for g in _RATIO_GRID]
        i = int(np.argmin(values))
        lo, hi = _RATIO_GRID[max(i - 1, 0)], _RATIO_GRID[min(i + 1, len(_RATIO_GRID) - 1)]
        found = minimize_scalar(
            lambda g: profiled(g)[0], bounds=(lo, hi), method="bounded", options={"xatol": 1e-10}
        )
        ratio = float(found.x) if found.fun < values[i] else float(_RATIO_GRID[i])
        beta = profiled(ratio)[1]
    except (np.linalg.LinAlgError, ValueError):
        return None
    if not (math.isfinite(ratio) and np.all(np.isfinite(beta))):
        return None
    return MixedLMParams.from_components(fe_params=beta, cov_re=np.array([[ratio]]))


def fit_poisson(
    data: pd.DataFrame, *, per: float = 1000.0, lag: int = 0, metric: str | None = None
) -> Estimate:
    """Events over bed days: a Poisson GLM with month and ward fixed effects, clustered SE.

    ``data`` needs ``events`` and ``bed_days`` columns besides the panel's.
    """
    import statsmodels.api as sm

    data = data.loc[data["bed_days"].fillna(0) > 0].dropna(subset=["events"])
    reason = _not_estimable(data)
    if reason:
        return _failed(data, METHOD_POISSON, lag, metric, reason)
    frame = data.assign(month=_month_labels(data["month"]), ward=data["ward"].astype(str))
    unexposed = frame.loc[frame["exposed"] == 0]
    base_rate = per * float(unexposed["events"].sum()) / float(unexposed["bed_days"].sum())
    groups = pd.factorize(frame["ward"])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            # ``events ~ exposed + C(month) + C(ward)``, its design built as patsy builds it
            # (a third of each fit's time went on the formula).
            result = sm.GLM(
                frame["events"].astype(float),
                treatment_design(frame, ["month", "ward"]),
                family=sm.families.Poisson(),
                offset=np.log(frame["bed_days"].astype(float)),
            ).fit(cov_type="cluster", cov_kwds={"groups": groups})
        except (ValueError, np.linalg.LinAlgError) as exc:
            return _failed(
                data, METHOD_POISSON, lag, metric, f"the model could not be fitted: {exc}"
            )
    beta, se = float(result.params["exposed"]), float(result.bse["exposed"])
    if not (math.isfinite(beta) and math.isfinite(se)) or se <= 0:
        return _failed(data, METHOD_POISSON, lag, metric, "the model did not converge")
    rr, lo, hi = math.exp(beta), math.exp(beta - Z_95 * se), math.exp(beta + Z_95 * se)
    wards, n, n_exp = _counts(data)
    return Estimate(
        round(base_rate * (rr - 1), 6),
        round(base_rate * (lo - 1), 6),
        round(base_rate * (hi - 1), 6),
        _num(result.pvalues["exposed"]),
        wards,
        n,
        n_exp,
        METHOD_POISSON,
        lag,
        metric,
        rate_ratio=round(rr, 6),
        rr_low=round(lo, 6),
        rr_high=round(hi, 6),
        unexposed_rate=round(base_rate, 6),
    )


def evaluate_panel(panel: pd.DataFrame, *, lag: int = 0, metric: str | None = None) -> Estimate:
    """The stepped-wedge estimate for one metric's ward-month panel.

    ``panel`` columns: ward, month, value, start (engagement date, NaT if not joined) and, for a
    rate, events and bed_days (then the Poisson model is used).
    """
    marked = mark_exposure(panel, lag)
    # One BLAS thread: the designs are small (a ward-month panel by a few dozen columns), and
    # OpenBLAS's threads spinning for a share of two busy cores made the Poisson fits' SVDs
    # ten times slower (4 s instead of 0.4 s a fit); one thread gives the same numbers.
    with _blas().limit(limits=1, user_api="blas"):
        if {"events", "bed_days"} <= set(marked.columns):
            per = RATE_METRICS.get(metric or "", 1000.0)
            return fit_poisson(marked, per=per, lag=lag, metric=metric)
        return fit_mixed(marked, lag=lag, metric=metric)


@functools.cache
def _blas() -> Any:
    """The process's BLAS libraries (a ``threadpoolctl.ThreadpoolController``), found once.

    ``threadpool_limits`` looks for them again on every call, reading the process's memory map
    (a tenth of each small fit); the libraries do not change once numpy, scipy and statsmodels
    are loaded, which they are first.
    """
    import scipy.linalg  # noqa: F401 - scipy's own OpenBLAS, limited with numpy's
    import statsmodels.api  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


# -- the programme's ward-month metrics ---------------------------------------------------------


def ward_month_bed_days(census: pd.DataFrame) -> pd.DataFrame:
    """Occupied bed days per ward-month from the midnight census: ward_code, month, bed_days."""
    frame = census.assign(month=month_start(pd.to_datetime(census["date"])))
    out = frame.groupby(["ward_code", "month"])["patients_at_midnight"].sum()
    return out.rename("bed_days").reset_index()


def metric_panels(
    metrics: pd.DataFrame,
    starts: Mapping[str, Any],
    bed_days: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """One panel per metric from the long (ward_code, month, metric, value) frame.

    ``starts`` maps ward code to engagement date (missing or None: not yet joined). With
    ``bed_days`` (see :func:`ward_month_bed_days`) rates get their events and denominators.
    """
    panels: dict[str, pd.DataFrame] = {}
    start_of = {k: pd.Timestamp(v) if v is not None else pd.NaT for k, v in starts.items()}
    for key, rows in metrics.groupby("metric", sort=False, observed=True):
        name = str(key)
        panel = pd.DataFrame(
            {
                "ward": rows["ward_code"].astype(str).to_numpy(),
                "month": pd.to_datetime(rows["month"]).to_numpy(),
                "value": rows["value"].astype(float).to_numpy(),
            }
        )
        panel["start"] = pd.to_datetime(panel["ward"].map(start_of))
        if name in RATE_METRICS and bed_days is not None:
            den = bed_days.rename(columns={"ward_code": "ward"})
            panel = panel.merge(den, on=["ward", "month"], how="left")
            panel["events"] = np.rint(panel["value"] * panel["bed_days"] / RATE_METRICS[name])
        panels[name] = panel
    return panels


def evaluate_metrics(panels: Mapping[str, pd.DataFrame], *, lag: int = 0) -> dict[str, Estimate]:
    return {key: evaluate_panel(panel, lag=lag, metric=key) for key, panel in panels.items()}


def wave_before_after(
    panel: pd.DataFrame, waves: Mapping[str, int], window: int = WAVE_WINDOW_MONTHS
) -> pd.DataFrame:
    """Per wave: the metric's mean in the ``window`` months before the event month and after.

    "After" starts at the exposure month (the month after the event). A wave whose wards have no
    months after joining yet has ``after_mean`` NaN. Columns: wave, wards, before_mean,
    before_months, after_mean, after_months, change.
    """
    cols = ["wave", "wards", "before_mean", "before_months", "after_mean", "after_months"]
    data = panel.dropna(subset=["value"]).loc[lambda f: f["start"].notna()]
    if data.empty:
        return pd.DataFrame(columns=[*cols, "change"])
    # Arrays per wave, not a frame per wave: the same rows in the same order, so each mean is
    # numpy's sum over the same values (what ``Series.mean`` computes), at a fraction of the cost.
    wave_of = data["ward"].map(waves).to_numpy(dtype=float)
    keep = ~np.isnan(wave_of)
    ward = data["ward"].to_numpy(dtype=object)[keep]
    value = data["value"].to_numpy(dtype=float)[keep]
    month = _month_numbers(data["month"])[keep]
    offset = month - _month_numbers(data["start"])[keep]
    wave_of = wave_of[keep]
    before_rows = (offset >= -window) & (offset < 0)
    after_rows = (offset >= 1) & (offset <= window)
    rows = []
    for wave in np.unique(wave_of):
        mine = wave_of == wave
        b, a = mine & before_rows, mine & after_rows
        rows.append(
            {
                "wave": int(wave),
                "wards": len(set(ward[mine])),
                "before_mean": _mean(value[b]),
                "before_months": len(np.unique(month[b])),
                "after_mean": _mean(value[a]),
                "after_months": len(np.unique(month[a])),
            }
        )
    out = pd.DataFrame(rows, columns=cols)
    out["change"] = out["after_mean"] - out["before_mean"]
    return out


def _mean(values: np.ndarray) -> float:
    """``pd.Series(values).mean()`` for NaN-free values (NaN when empty), without the Series."""
    return float(values.sum() / values.size) if values.size else math.nan


# -- words for the board ------------------------------------------------------------------------


def _fmt(x: float, decimals: int) -> str:
    return f"{(0.0 if round(x, decimals) == 0 else x):,.{decimals}f}"


def plain_english(est: Estimate) -> str:
    """One sentence a board member can read: what changed, how sure we are, or why we can't say."""
    m = METRICS_BY_KEY.get(est.metric or "")
    label = m.label if m else (est.metric or "the value")
    if not est.estimable or est.effect is None or est.ci_low is None or est.ci_high is None:
        return f"{label}: the data cannot answer yet ({est.reason})."
    decimals = m.decimals if m else 2
    unit = {"%": " percentage points", "rate": " per 1,000 bed days"}.get(m.unit if m else "", "")
    size = _fmt(abs(est.effect), decimals) + unit
    ci = f"95% CI {_fmt(est.ci_low, decimals)} to {_fmt(est.ci_high, decimals)}"
    if not est.significant:
        return (
            f"{label}: no clear change after wards join (estimate "
            f"{'+' if est.effect >= 0 else '-'}{size}, {ci}); the programme may or may not "
            "affect it."
        )
    direction = "higher" if est.effect > 0 else "lower"
    verdict = ""
    if m is not None and m.improvement != "neutral":
        better = (est.effect > 0) == (m.improvement == "increase")
        verdict = " (an improvement)" if better else " (a deterioration)"
    return (
        f"{label} is {size} {direction} after wards join the programme{verdict}, "
        f"allowing for the month and each ward's own level ({ci})."
    )
