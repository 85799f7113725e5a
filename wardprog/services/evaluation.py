"""The programme's own evaluation: ward-month metrics from the extracts, exposure from the events.

Reads the extracts (as the diagnostic stage does) and each enrolled ward's engagement event
from the database, then hands ward-month panels to the pure stepped-wedge rules in
``wardprog.rules.evaluation``. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from dateutil.relativedelta import relativedelta
from sqlmodel import Session, select

from wardprog.config import Settings
from wardprog.errors import NotFoundError
from wardprog.models import Ward, WardEnrolment, Wave
from wardprog.rules.evaluation import (
    Estimate,
    evaluate_panel,
    metric_panels,
    ward_month_bed_days,
    wave_before_after,
)
from wardprog.rules.metrics import METRICS, METRICS_BY_KEY, ward_month_metrics
from wardprog.services.diagnostics import engagement_date, load_extracts

# Two years of ward-months up to the last complete month: a year before the first wave gives
# each ward its own level and the season; more adds fitting time and little information.
EVALUATION_MONTHS = 24


@dataclass
class ProgrammeEvaluation:
    as_of: date
    period_start: date
    period_end: date
    lag: int
    estimates: dict[str, Estimate]
    by_wave: dict[str, pd.DataFrame] = field(default_factory=dict)
    events: dict[str, date | None] = field(default_factory=dict)
    # The period's ward-month metrics (every metric, long form) and occupied bed days, as read
    # for the estimates: the board report charts the same months without reading them again.
    metrics: pd.DataFrame = field(default_factory=pd.DataFrame)
    bed_days: pd.DataFrame = field(default_factory=pd.DataFrame)


def evaluation_period(as_of: date, months: int = EVALUATION_MONTHS) -> tuple[date, date]:
    """The ``months`` complete calendar months before ``as_of``."""
    first = as_of.replace(day=1)
    return first - relativedelta(months=months), first - relativedelta(days=1)


def engagement_dates(
    session: Session, as_of: date
) -> tuple[dict[str, date | None], dict[str, int]]:
    """Each enrolled ward's engagement date (None if not held by ``as_of``) and wave number."""
    events: dict[str, date | None] = {}
    waves: dict[str, int] = {}
    rows = session.exec(
        select(WardEnrolment, Ward, Wave)
        .where(WardEnrolment.ward_id == Ward.id, WardEnrolment.wave_id == Wave.id)
        .order_by(Ward.code)
    ).all()
    for enrolment, ward, wave in rows:
        day = engagement_date(session, ward, enrolment)
        events[ward.code] = day if day is not None and day <= as_of else None
        waves[ward.code] = wave.number
    return events, waves


def evaluate_programme(
    session: Session,
    settings: Settings,
    as_of: date,
    *,
    lag: int = 0,
    metrics: list[str] | None = None,
) -> ProgrammeEvaluation:
    """The stepped-wedge estimate and per-wave before/after for each programme metric."""
    keys = metrics or [m.key for m in METRICS]
    unknown = [k for k in keys if k not in METRICS_BY_KEY]
    if unknown:
        raise NotFoundError(
            f"unknown metric {', '.join(unknown)}: use one of {', '.join(METRICS_BY_KEY)}"
        )
    start, end = evaluation_period(as_of)
    extracts = load_extracts(settings)
    events, waves = engagement_dates(session, as_of)
    every = ward_month_metrics(extracts.tables, start, end)
    long = every.loc[every["metric"].isin(keys)]
    census = extracts["census"]
    census = census.loc[
        (census["date"] >= pd.Timestamp(start)) & (census["date"] <= pd.Timestamp(end))
    ]
    bed_days = ward_month_bed_days(census)
    panels = metric_panels(long, events, bed_days)
    estimates = {}
    by_wave = {}
    for key in keys:
        panel = panels.get(key)
        if panel is None:
            panel = pd.DataFrame(columns=["ward", "month", "value", "start"])
        estimates[key] = evaluate_panel(panel, lag=lag, metric=key)
        by_wave[key] = wave_before_after(panel, waves)
    return ProgrammeEvaluation(as_of, start, end, lag, estimates, by_wave, events, every, bed_days)
