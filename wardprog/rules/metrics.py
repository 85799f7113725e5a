"""Ward-month metrics from validated extracts: pure pandas, no I/O.

The metrics are the ones a ward's quality and safety dashboard carries in an English acute trust:
safe-staffing fill rates (published monthly per ward), Care Hours Per Patient Day (CHPPD, the
Carter review's measure of staff deployment), workforce stability, harm rates normalised per
1,000 occupied bed days (so a 36-bed ward is comparable with a 20-bed one), complaints and the
Friends and Family Test. Staff Survey answers roll up to the NHS People Promise elements, the
staff engagement and morale themes, with small-number suppression to protect anonymity.

Every function takes and returns DataFrames for all wards at once (vectorised groupbys), so the
same code serves one ward's pack and the trust-wide benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta


@dataclass(frozen=True)
class MetricDef:
    key: str
    label: str
    unit: str
    improvement: str  # increase | decrease | neutral (Making Data Count direction)
    target: float | None = None
    decimals: int = 1


# Targets are the trust's usual thresholds; neutral metrics (volume, deployment) have none.
METRICS: tuple[MetricDef, ...] = (
    MetricDef("rn_day_fill_pct", "Registered nurse fill rate (day)", "%", "increase", 95),
    MetricDef("rn_night_fill_pct", "Registered nurse fill rate (night)", "%", "increase", 95),
    MetricDef("hca_day_fill_pct", "Care staff fill rate (day)", "%", "neutral"),
    MetricDef("hca_night_fill_pct", "Care staff fill rate (night)", "%", "neutral"),
    MetricDef("chppd", "Care hours per patient day", "hours", "neutral", decimals=2),
    MetricDef("sickness_pct", "Sickness absence", "%", "decrease", 4.5, 2),
    MetricDef("vacancy_pct", "Vacancy rate", "%", "decrease", 8, 2),
    MetricDef("turnover_pct", "Staff turnover (12 months)", "%", "decrease", 12, 2),
    MetricDef(
        "falls_per_1000_obd", "Falls per 1,000 occupied bed days", "rate", "decrease", None, 2
    ),
    MetricDef(
        "pressure_ulcers_per_1000_obd",
        "Pressure ulcers per 1,000 occupied bed days",
        "rate",
        "decrease",
        None,
        2,
    ),
    MetricDef("incidents_total", "Incidents reported", "count", "neutral", decimals=0),
    MetricDef("incidents_no_harm", "Incidents: no harm", "count", "neutral", decimals=0),
    MetricDef("incidents_low_harm", "Incidents: low harm", "count", "neutral", decimals=0),
    MetricDef(
        "incidents_moderate_harm_plus",
        "Incidents: moderate harm or worse",
        "count",
        "decrease",
        decimals=0,
    ),
    MetricDef("complaints", "Formal complaints", "count", "decrease", decimals=0),
    MetricDef("fft_positive_pct", "Friends and Family Test: % positive", "%", "increase", 90),
)
METRICS_BY_KEY: dict[str, MetricDef] = {m.key: m for m in METRICS}

METRIC_COLUMNS = ["ward_code", "month", "metric", "value"]

# A diagnostic baseline: three years of complete months, enough for stable SPC limits.
BASELINE_MONTHS = 36


def baseline_period(as_of: date, months: int = BASELINE_MONTHS) -> tuple[date, date]:
    """The ``months`` complete calendar months before ``as_of`` (the current month is partial)."""
    first_of_month = as_of.replace(day=1)
    start = first_of_month - relativedelta(months=months)
    end = first_of_month - relativedelta(days=1)
    return start, end


def month_start(values: pd.Series) -> pd.Series:
    return values.dt.to_period("M").dt.to_timestamp()


def _pct(num: pd.Series, den: pd.Series) -> pd.Series:
    return (100 * num / den.where(den > 0)).astype(float)


def ward_month_metrics(
    tables: Mapping[str, pd.DataFrame], start: date, end: date, *, gaps: bool = False
) -> pd.DataFrame:
    """Long frame (ward_code, month, metric, value) for months from ``start`` to ``end``.

    Months with no source row for a monthly return are absent (not zero): a missing return is
    not a month with nothing in it. Counted events (incidents, complaints) are zero for a month
    the ward was open (it has census or staffing) but recorded none. With ``gaps``, a missing
    month between a series' first and last values is kept with a null value, so an SPC chart
    shows the gap as NHSRplotthedots does (no moving range across it) instead of joining the
    months either side.
    """
    lo = pd.Timestamp(start).to_period("M").to_timestamp()
    hi = pd.Timestamp(end).to_period("M").to_timestamp()

    def in_range(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.loc[(frame["month"] >= lo) & (frame["month"] <= hi)]

    staffing = tables["safe_staffing"].assign(month=lambda f: month_start(f["month"]))
    staffing = in_range(staffing).groupby(["ward_code", "month"]).sum(numeric_only=True)
    wide = pd.DataFrame(index=staffing.index)
    for grp in ("rn", "hca"):
        for shift in ("day", "night"):
            wide[f"{grp}_{shift}_fill_pct"] = _pct(
                staffing[f"{grp}_{shift}_actual_hours"], staffing[f"{grp}_{shift}_planned_hours"]
            )
    actual_hours = staffing[[c for c in staffing.columns if c.endswith("_actual_hours")]].sum(
        axis=1
    )

    census = tables["census"]
    census = census.assign(month=month_start(census["date"]))
    obd = in_range(census).groupby(["ward_code", "month"])["patients_at_midnight"].sum()
    obd.name = "obd"
    wide = wide.join(obd, how="outer")
    # CHPPD: actual nursing and care hours divided by patient days (midnight census).
    wide["chppd"] = (actual_hours.reindex(wide.index) / wide["obd"].where(wide["obd"] > 0)).astype(
        float
    )

    workforce = in_range(tables["workforce"].assign(month=lambda f: month_start(f["month"])))
    workforce = workforce.groupby(["ward_code", "month"])[
        ["sickness_pct", "vacancy_pct", "turnover_pct"]
    ].mean()
    wide = wide.join(workforce, how="outer")

    open_months = wide.index  # months the ward has any activity: counts default to zero there
    incidents = tables["incidents"].assign(month=lambda f: month_start(f["date"]))
    incidents = in_range(incidents)
    harm = incidents["harm_level"]
    flags = pd.DataFrame(
        {
            "ward_code": incidents["ward_code"],
            "month": incidents["month"],
            "incidents_total": 1,
            "incidents_no_harm": (harm == "no_harm").astype(int),
            "incidents_low_harm": (harm == "low").astype(int),
            "incidents_moderate_harm_plus": harm.isin(["moderate", "severe", "death"]).astype(int),
            "falls": (incidents["category"].str.lower() == "fall").astype(int),
            "pressure_ulcers": (incidents["category"].str.lower() == "pressure_ulcer").astype(int),
        }
    )
    counts = flags.groupby(["ward_code", "month"]).sum()
    complaints = tables["complaints"].assign(month=lambda f: month_start(f["received_date"]))
    complaint_counts = in_range(complaints).groupby(["ward_code", "month"]).size()
    complaint_counts.name = "complaints"
    counts = counts.join(complaint_counts, how="outer")
    all_months = open_months.union(counts.index)
    counts = counts.reindex(all_months).fillna(0)
    wide = wide.reindex(all_months).join(counts)
    obd_pos = wide["obd"].where(wide["obd"] > 0)
    wide["falls_per_1000_obd"] = 1000 * wide["falls"] / obd_pos
    wide["pressure_ulcers_per_1000_obd"] = 1000 * wide["pressure_ulcers"] / obd_pos

    fft = in_range(tables["fft"].assign(month=lambda f: month_start(f["month"])))
    fft = fft.groupby(["ward_code", "month"])[["responses", "positive"]].sum()
    fft_pct = _pct(fft["positive"], fft["responses"])
    fft_pct.name = "fft_positive_pct"
    wide = wide.join(fft_pct, how="outer")

    keys = [m.key for m in METRICS]
    long = cast(pd.Series, wide.reindex(columns=keys).stack(future_stack=True))
    long.index = long.index.set_names(["ward_code", "month", "metric"])
    out = long.reset_index(name="value")[METRIC_COLUMNS]
    out = _interior_gaps(out) if gaps else out.dropna(subset=["value"])
    # Categorical: 16 distinct names over hundreds of thousands of rows sort and group fast.
    out["metric"] = pd.Categorical(out["metric"], categories=keys)
    return out


def _interior_gaps(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows with a value, and null rows between a ward-metric's first and last value."""
    frame = frame.sort_values(["ward_code", "metric", "month"], kind="stable")
    present = frame["value"].notna()
    keys = [frame["ward_code"], frame["metric"]]
    after_first = present.groupby(keys).cummax()
    before_last = present[::-1].groupby([k[::-1] for k in keys]).cummax()[::-1]
    return frame.loc[after_first & before_last].reset_index(drop=True)


# -- NHS Staff Survey ---------------------------------------------------------------------------

PEOPLE_PROMISE = {
    "compassionate_inclusive": "We are compassionate and inclusive",
    "recognised_rewarded": "We are recognised and rewarded",
    "voice_that_counts": "We each have a voice that counts",
    "safe_healthy": "We are safe and healthy",
    "always_learning": "We are always learning",
    "work_flexibly": "We work flexibly",
    "team": "We are a team",
}
THEMES = {**PEOPLE_PROMISE, "staff_engagement": "Staff engagement", "morale": "Morale"}

# Survey question -> (themes it scores, negatively worded). Codes follow the national
# questionnaire's numbering; a question can feed a People Promise element and a theme, as in the
# national scoring. Negatively worded items ("I often think about leaving") are reversed.
QUESTION_THEMES: dict[str, tuple[tuple[str, ...], bool]] = {
    "q6a": (("compassionate_inclusive",), False),
    "q7h": (("compassionate_inclusive",), False),
    "q9f": (("compassionate_inclusive",), False),
    "q4a": (("recognised_rewarded",), False),
    "q4b": (("recognised_rewarded",), False),
    "q9e": (("recognised_rewarded",), False),
    "q3a": (("voice_that_counts", "staff_engagement"), False),
    "q3c": (("voice_that_counts", "staff_engagement"), False),
    "q25e": (("voice_that_counts",), False),
    "q3g": (("safe_healthy", "morale"), False),
    "q11b": (("safe_healthy",), True),
    "q13a": (("safe_healthy",), True),
    "q23a": (("always_learning",), False),
    "q24a": (("always_learning",), False),
    "q4d": (("work_flexibly",), False),
    "q6c": (("work_flexibly",), False),
    "q7a": (("team", "morale"), False),
    "q7b": (("team",), False),
    "q9a": (("team",), False),
    "q2a": (("staff_engagement",), False),
    "q2b": (("staff_engagement",), False),
    "q25a": (("staff_engagement",), False),
    "q25c": (("staff_engagement",), False),
    "q26a": (("morale",), True),
    "q26b": (("morale",), True),
}


def staff_survey_scores(
    responses: pd.DataFrame, *, min_respondents: int, survey_year: int | None = None
) -> pd.DataFrame:
    """Theme scores (0-10, as the national survey reports them) per ward for one survey year.

    Each respondent's theme score is the mean of their scored answers in that theme; the ward
    score is the mean over respondents. Wards with fewer than ``min_respondents`` respondents get
    no score (``score`` NaN, ``suppressed`` True): with a handful of staff, a score identifies
    people. Columns: ward_code, survey_year, theme, label, respondents, score, suppressed.
    Unknown question codes are ignored (the national survey carries many more questions).
    """
    cols = ["ward_code", "survey_year", "theme", "label", "respondents", "score", "suppressed"]
    if responses.empty:
        return pd.DataFrame(columns=cols)
    year = int(responses["survey_year"].max()) if survey_year is None else survey_year
    df = responses.loc[responses["survey_year"] == year]
    respondents = df.groupby("ward_code")["respondent_id"].nunique()
    mapping = pd.DataFrame(
        [
            {"question": q, "theme": t, "reverse": rev}
            for q, (themes, rev) in QUESTION_THEMES.items()
            for t in themes
        ]
    )
    scored = df.merge(mapping, on="question", how="inner")
    raw = scored["answer"].astype(float)
    answer = np.where(scored["reverse"].astype(bool), 6 - raw, raw)
    scored = scored.assign(points=(answer - 1) * 2.5)  # 1-5 answer -> 0-10 score
    per_person = scored.groupby(["ward_code", "theme", "respondent_id"])["points"].mean()
    ward_scores = per_person.groupby(["ward_code", "theme"]).mean().rename("score").reset_index()
    grid = pd.MultiIndex.from_product(
        [respondents.index, list(THEMES)], names=["ward_code", "theme"]
    ).to_frame(index=False)
    out = grid.merge(ward_scores, on=["ward_code", "theme"], how="left")
    out["respondents"] = out["ward_code"].map(respondents).astype(int)
    out["suppressed"] = out["respondents"] < min_respondents
    out.loc[out["suppressed"], "score"] = np.nan
    out["score"] = out["score"].round(2)
    out["label"] = out["theme"].map(THEMES)
    out["survey_year"] = year
    return out[cols]


def latest_survey_year(responses: pd.DataFrame, as_of: date) -> int | None:
    """The most recent survey whose results were out by ``as_of`` (published each March)."""
    if responses.empty:
        return None
    return latest_published_year(responses["survey_year"].unique(), as_of)


def latest_published_year(survey_years: Iterable[Any], as_of: date) -> int | None:
    """Of the surveys held (their years), the most recent one published by ``as_of``."""
    published = [y for y in sorted({int(y) for y in survey_years}) if date(y + 1, 3, 1) <= as_of]
    return published[-1] if published else None
