"""Ward-month metrics and staff survey scoring on small hand-checked tables."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from wardprog.rules.metrics import (
    latest_published_year,
    latest_survey_year,
    staff_survey_scores,
    ward_month_metrics,
)
from wardprog.sources.extracts import Extracts

JAN, FEB = pd.Timestamp("2025-01-01"), pd.Timestamp("2025-02-01")


def _tables() -> dict[str, pd.DataFrame]:
    staffing = pd.DataFrame(
        {
            "ward_code": ["A", "A"],
            "month": [JAN, FEB],
            "rn_day_planned_hours": [1000.0, 1000.0],
            "rn_day_actual_hours": [900.0, 1000.0],
            "rn_night_planned_hours": [800.0, 800.0],
            "rn_night_actual_hours": [800.0, 760.0],
            "hca_day_planned_hours": [500.0, 500.0],
            "hca_day_actual_hours": [550.0, 500.0],
            "hca_night_planned_hours": [400.0, 0.0],
            "hca_night_actual_hours": [400.0, 0.0],
        }
    )
    days = pd.date_range("2025-01-01", "2025-02-28", freq="D")
    census = pd.DataFrame({"ward_code": "A", "date": days, "patients_at_midnight": 20})
    workforce = pd.DataFrame(
        {
            "ward_code": "A",
            "month": [JAN],
            "sickness_pct": [4.0],
            "vacancy_pct": [6.0],
            "turnover_pct": [11.0],
        }
    )
    incidents = pd.DataFrame(
        {
            "incident_id": ["1", "2", "3", "4"],
            "ward_code": "A",
            "date": pd.to_datetime(["2025-01-03", "2025-01-09", "2025-01-20", "2025-02-02"]),
            "category": ["fall", "fall", "pressure_ulcer", "medication"],
            "harm_level": ["no_harm", "moderate", "low", "severe"],
        }
    )
    complaints = pd.DataFrame(
        {"complaint_id": ["c1"], "ward_code": "A", "received_date": pd.to_datetime(["2025-02-10"])}
    )
    fft = pd.DataFrame({"ward_code": "A", "month": [JAN], "responses": [40], "positive": [38]})
    return {
        "safe_staffing": staffing,
        "census": census,
        "workforce": workforce,
        "incidents": incidents,
        "complaints": complaints,
        "fft": fft,
        "staff_survey": pd.DataFrame(),
    }


def test_ward_month_metrics_by_hand() -> None:
    long = ward_month_metrics(_tables(), date(2025, 1, 1), date(2025, 2, 28))
    m = long.set_index(["month", "metric"])["value"]
    assert m[(JAN, "rn_day_fill_pct")] == pytest.approx(90.0)
    assert m[(FEB, "rn_night_fill_pct")] == pytest.approx(95.0)
    assert m[(JAN, "hca_day_fill_pct")] == pytest.approx(110.0)
    # No planned night HCA hours in February: no fill rate rather than a division by zero.
    assert (FEB, "hca_night_fill_pct") not in m.index
    # CHPPD: (900+800+550+400) actual hours over 31 days x 20 patients.
    assert m[(JAN, "chppd")] == pytest.approx(2650 / 620)
    assert m[(JAN, "falls_per_1000_obd")] == pytest.approx(2 / 620 * 1000)
    assert m[(JAN, "pressure_ulcers_per_1000_obd")] == pytest.approx(1 / 620 * 1000)
    assert m[(FEB, "falls_per_1000_obd")] == 0
    assert m[(JAN, "incidents_total")] == 3
    assert m[(JAN, "incidents_moderate_harm_plus")] == 1
    assert m[(FEB, "incidents_moderate_harm_plus")] == 1
    assert m[(JAN, "complaints")] == 0 and m[(FEB, "complaints")] == 1
    assert m[(JAN, "fft_positive_pct")] == pytest.approx(95.0)
    assert m[(JAN, "sickness_pct")] == 4.0
    # A missing monthly return is absent, not zero.
    assert (FEB, "sickness_pct") not in m.index


def _survey(n_resp: int, ward: str = "A", year: int = 2024) -> pd.DataFrame:
    rows = []
    for r in range(n_resp):
        rows.append(
            {
                "survey_year": year,
                "respondent_id": f"{ward}{r}",
                "ward_code": ward,
                "question": "q2a",
                "answer": 5,
            }
        )
        rows.append(
            {
                "survey_year": year,
                "respondent_id": f"{ward}{r}",
                "ward_code": ward,
                "question": "q2b",
                "answer": 3,
            }
        )
        # Negatively worded: "I often think about leaving" answered 'strongly disagree' (1).
        rows.append(
            {
                "survey_year": year,
                "respondent_id": f"{ward}{r}",
                "ward_code": ward,
                "question": "q26a",
                "answer": 1,
            }
        )
        rows.append(
            {
                "survey_year": year,
                "respondent_id": f"{ward}{r}",
                "ward_code": ward,
                "question": "q999",
                "answer": 1,
            }
        )
    return pd.DataFrame(rows)


def test_staff_survey_scores_and_suppression() -> None:
    responses = pd.concat([_survey(12, "A"), _survey(10, "B")])
    scores = staff_survey_scores(responses, min_respondents=11).set_index(["ward_code", "theme"])
    # Engagement: answers 5 and 3 -> 10 and 5 on the 0-10 scale.
    assert scores.loc[("A", "staff_engagement"), "score"] == pytest.approx(7.5)
    assert scores.loc[("A", "morale"), "score"] == pytest.approx(10.0)
    assert scores.loc[("A", "staff_engagement"), "respondents"] == 12
    # Ten respondents is below the threshold of 11: no score at all.
    assert scores.loc[("B", "staff_engagement"), "suppressed"]
    score = scores["score"]
    assert np.isnan(score[("B", "staff_engagement")])
    # A theme nobody answered has no score either.
    assert np.isnan(score[("A", "team")])
    assert {"compassionate_inclusive", "work_flexibly"} <= {t for _, t in scores.index}


def test_latest_published_survey_year() -> None:
    responses = pd.concat([_survey(1, year=2023), _survey(1, year=2024)])
    assert latest_survey_year(responses, date(2025, 2, 1)) == 2023
    assert latest_survey_year(responses, date(2025, 3, 1)) == 2024
    assert latest_survey_year(responses, date(2024, 1, 1)) is None
    # From the years alone (as the diagnostic pack asks, once per wave's extracts).
    extracts = Extracts({"staff_survey": responses})
    years = extracts.distinct("staff_survey", "survey_year")
    assert sorted(int(y) for y in years) == [2023, 2024]
    assert extracts.distinct("staff_survey", "survey_year") is years  # memoised
    assert latest_published_year(years, date(2025, 3, 1)) == 2024
    assert latest_published_year([], date(2025, 3, 1)) is None


def test_gaps_keep_a_missing_month_inside_a_series_only() -> None:
    tables = _tables()
    mar = pd.Timestamp("2025-03-01")
    # FFT returned in January and March, not February: February is a gap in the chart.
    tables["fft"] = pd.DataFrame(
        {"ward_code": "A", "month": [JAN, mar], "responses": [40, 20], "positive": [38, 19]}
    )
    long = ward_month_metrics(tables, date(2025, 1, 1), date(2025, 3, 31), gaps=True)
    fft = long[long["metric"] == "fft_positive_pct"].set_index("month")["value"]
    assert list(fft.index) == [JAN, FEB, mar]
    assert fft[JAN] == pytest.approx(95.0) and np.isnan(fft[FEB]) and fft[mar] == 95.0
    # Sickness was returned for January only: nothing after its last value is invented.
    sickness = long[long["metric"] == "sickness_pct"]
    assert list(sickness["month"]) == [JAN]
    # Without gaps (evaluation, board figures) the missing month is simply absent.
    plain = ward_month_metrics(tables, date(2025, 1, 1), date(2025, 3, 31))
    assert plain["value"].notna().all()
    assert len(plain[plain["metric"] == "fft_positive_pct"]) == 2
