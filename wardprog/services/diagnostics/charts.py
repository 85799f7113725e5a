"""Diagnostic charts and signals: ward-month metrics, SPC per metric, what the pack shows."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from typing import Any

import pandas as pd

from wardprog.config import Settings
from wardprog.rules.metrics import (
    METRICS,
    latest_published_year,
    staff_survey_scores,
    ward_month_metrics,
)
from wardprog.rules.spc import RULE_TEXT, figure, spc_frame
from wardprog.sources.extracts import Extracts

# Signals older than this are history, not something to raise with staff now.
RECENT_MONTHS = 6


def ward_charts(
    extracts: Extracts,
    ward_code: str,
    start: date,
    end: date,
    *,
    rebase: tuple[date, ...] = (),
    fix_after_n_points: int | None = None,
) -> pd.DataFrame:
    """Every metric's SPC chart for one ward (one row per metric-month)."""
    metrics = ward_month_metrics(extracts.for_wards([ward_code]).tables, start, end, gaps=True)
    return charts_for(metrics, rebase=rebase, fix_after_n_points=fix_after_n_points)


# Charting a whole wave's wards in one vectorised pass costs about what charting one ward does.
_WAVE_CHARTS_LOCK = threading.Lock()


def wave_ward_charts(
    extracts: Extracts,
    ward_code: str,
    wave_codes: Sequence[str],
    start: date,
    end: date,
) -> pd.DataFrame:
    """``ward_code``'s charts, computed with the rest of its wave's wards in one pass.

    The first ward of a wave to ask charts every ward of the wave over the same period (one
    ``ward_month_metrics`` and one SPC pass) and keeps them, grouped by ward, on the extracts'
    memo (one wave and period at a time); the others look theirs up. Only the wave's own rows are
    ever charted, so memory stays at one wave's worth whatever the size of the trust.
    """
    key = ("wave_charts", tuple(sorted(set(wave_codes) | {ward_code})), start, end)
    with _WAVE_CHARTS_LOCK:
        memo = extracts._memo.get("wave_charts")
        if memo is None or memo[0] != key:
            metrics = ward_month_metrics(extracts.for_wards(key[1]).tables, start, end, gaps=True)
            chart = charts_for(metrics)
            by_ward = {
                str(code): rows
                for code, rows in chart.groupby("ward_code", sort=False, observed=True)
            }
            memo = (key, by_ward, chart.iloc[0:0])
            extracts._memo["wave_charts"] = memo
    return memo[1].get(ward_code, memo[2])


def charts_for(
    metrics: pd.DataFrame,
    *,
    rebase: tuple[date, ...] = (),
    fix_after_n_points: int | None = None,
) -> pd.DataFrame:
    """SPC for a long ward-month metric frame (any number of wards) in one vectorised pass."""
    frame = metrics.assign(
        improvement=metrics["metric"].map({m.key: m.improvement for m in METRICS}),
        target=metrics["metric"].map({m.key: m.target for m in METRICS}).astype(float),
    )
    return spc_frame(
        frame,
        by=["ward_code", "metric"],
        date_col="month",
        improvement_col="improvement",
        target_col="target",
        rebase=rebase,
        fix_after_n_points=fix_after_n_points,
    )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def metrics_json(chart: pd.DataFrame) -> dict[str, Any]:
    """JSON for a snapshot: per metric, its definition, current limits, icons and every point.

    ``chart`` holds one ward's charts (rows sorted by metric then month, as ``spc_frame`` returns
    them). Columns are converted to Python lists once: this runs for every ward in a wave.
    """
    if chart.empty:
        return {}
    cols = {
        "metric": chart["metric"].astype(str).tolist(),
        "month": chart["month"].dt.strftime("%Y-%m").tolist(),
        "value": [figure(v) for v in chart["value"].tolist()],
        "mean": [figure(v) for v in chart["mean"].tolist()],
        "lpl": [figure(v) for v in chart["lpl"].tolist()],
        "upl": [figure(v) for v in chart["upl"].tolist()],
        "rebase_group": chart["rebase_group"].astype(int).tolist(),
        "point_type": chart["point_type"].astype(str).tolist(),
        "rule": chart["special_cause_type"].astype(str).tolist(),
        "variation_icon": [_text(v) for v in chart["variation_icon"].tolist()],
        "assurance_icon": [_text(v) for v in chart["assurance_icon"].tolist()],
        "short": chart["short_group_warning"].astype(bool).tolist(),
    }
    rows_of: dict[str, list[int]] = {}
    for i, key in enumerate(cols["metric"]):
        rows_of.setdefault(key, []).append(i)
    point_keys = ("month", "value", "mean", "lpl", "upl", "rebase_group", "point_type", "rule")
    out: dict[str, Any] = {}
    for m in METRICS:
        idx = sorted(rows_of.get(m.key, []), key=lambda i: cols["month"][i])
        if not idx:
            continue
        last = idx[-1]
        out[m.key] = {
            "label": m.label,
            "unit": m.unit,
            "improvement": m.improvement,
            "target": m.target,
            "decimals": m.decimals,
            "mean": cols["mean"][last],
            "lpl": cols["lpl"][last],
            "upl": cols["upl"][last],
            "variation_icon": cols["variation_icon"][last],
            "assurance_icon": cols["assurance_icon"][last],
            "short_group_warning": cols["short"][last],
            "latest": {"month": cols["month"][last], "value": cols["value"][last]},
            "points": [{k: cols[k][i] for k in point_keys} for i in idx],
        }
    return out


_KIND = {
    "special_cause_concern": "concern",
    "special_cause_improvement": "improvement",
    "special_cause_neutral_high": "neutral",
    "special_cause_neutral_low": "neutral",
}


def find_signals(
    metrics: dict[str, Any], recent_months: int = RECENT_MONTHS
) -> list[dict[str, Any]]:
    """What to raise at the engagement event: recent special causes and missed targets.

    Concerns come first: they are what staff will want to talk about.
    """
    signals: list[dict[str, Any]] = []
    for key, m in metrics.items():
        points = m["points"]
        recent = points[-recent_months:]
        special = [p for p in recent if p["point_type"] != "common_cause"]
        base = {
            "metric": key,
            "label": m["label"],
            "decimals": m["decimals"],
            "mean": m["mean"],
            "lpl": m["lpl"],
            "upl": m["upl"],
        }
        if special:
            p = special[-1]
            kind = _KIND[p["point_type"]]
            what = {"concern": "Concern", "improvement": "Improvement", "neutral": "Change"}[kind]
            signals.append(
                base
                | {
                    "kind": kind,
                    "point_type": p["point_type"],
                    "rule": p["rule"],
                    "month": p["month"],
                    "value": p["value"],
                    "points": len(special),
                    "description": f"{what}: {RULE_TEXT.get(p['rule'], p['rule'])} "
                    f"({len(special)} of the last {len(recent)} months flagged, "
                    f"latest {p['month']})",
                }
            )
        if m.get("assurance_icon") == "consistent_fail":
            latest = m["latest"]
            signals.append(
                base
                | {
                    "kind": "concern",
                    "point_type": None,
                    "rule": "consistent_fail",
                    "month": latest["month"],
                    "value": latest["value"],
                    "points": 0,
                    "description": f"The target of {m['target']:g} will be consistently missed "
                    "unless the process changes (the target is outside the process limits)",
                }
            )
    order = {"concern": 0, "neutral": 1, "improvement": 2}
    signals.sort(key=lambda s: order[s["kind"]])
    return signals


def wave_survey_scores(
    extracts: Extracts, ward_code: str, wave_codes: Sequence[str], year: int, min_respondents: int
) -> pd.DataFrame:
    """``ward_code``'s staff survey theme scores, scored with the rest of its wave in one pass.

    Scores are per ward (grouped by ward code), so scoring the wave together gives each ward
    exactly what scoring it alone would; like :func:`wave_ward_charts` the result is kept on the
    extracts' memo for one wave and survey year at a time.
    """
    key = ("wave_survey", tuple(sorted(set(wave_codes) | {ward_code})), year, min_respondents)
    with _WAVE_CHARTS_LOCK:
        memo = extracts._memo.get("wave_survey")
        if memo is None or memo[0] != key:
            scores = staff_survey_scores(
                extracts.for_wards(key[1])["staff_survey"],
                min_respondents=min_respondents,
                survey_year=year,
            )
            by_ward = {str(code): rows for code, rows in scores.groupby("ward_code", sort=False)}
            memo = (key, by_ward, scores.iloc[0:0])
            extracts._memo["wave_survey"] = memo
    return memo[1].get(ward_code, memo[2])


def staff_survey_json(
    extracts: Extracts,
    ward_code: str,
    as_of: date,
    settings: Settings,
    wave_codes: Sequence[str] = (),
) -> dict[str, Any]:
    """The pack's staff survey section; ``wave_codes`` scores the ward with its wave at once."""
    year = latest_published_year(extracts.distinct("staff_survey", "survey_year"), as_of)
    base: dict[str, Any] = {
        "survey_year": None,
        "min_respondents": settings.staff_survey_min_respondents,
        "respondents": 0,
        "suppressed": False,
        "themes": [],
    }
    if year is None:
        return base
    if wave_codes:
        scores = wave_survey_scores(
            extracts, ward_code, wave_codes, year, settings.staff_survey_min_respondents
        )
    else:
        ward_rows = extracts.for_wards([ward_code])["staff_survey"]  # indexed, not a full scan
        scores = staff_survey_scores(
            ward_rows, min_respondents=settings.staff_survey_min_respondents, survey_year=year
        )
    base["survey_year"] = year
    if scores.empty:
        base["suppressed"] = True  # nobody from this ward answered: nothing to report
        return base
    base["respondents"] = int(scores["respondents"].iloc[0])
    base["suppressed"] = bool(scores["suppressed"].iloc[0])
    base["themes"] = [
        {"theme": r.theme, "label": r.label, "score": figure(r.score)}
        for r in scores.itertuples(index=False)
    ]
    return base
