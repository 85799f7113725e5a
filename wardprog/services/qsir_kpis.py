"""QSIR training KPIs: staff trained to date against the trust's target, and when it is reached.

"Trained" means QSIR Practitioner completed under the completion rule (attendance plus a
presented project), counted from the date it was completed. The forecast assumes every cohort
that has not started yet fills to capacity and finishes at the observed completion rate: it
answers "if we keep filling cohorts, when do we hit the target?", which is the question the
programme board asks.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Group
from rich.table import Table
from sqlmodel import Session, col, select

from wardprog.config import TIMEZONE
from wardprog.models import (
    Course,
    NominationStatus,
    QsirCohort,
    QsirNomination,
    Site,
    Ward,
    Wave,
)
from wardprog.rules import cohorts as rules
from wardprog.rules.slots import to_utc

DEFAULT_TARGET = 100
# Until enough people have finished to measure it, assume nine in ten complete: the odd nominee
# is lost to sickness, leaving or rota pressure.
ASSUMED_COMPLETION_RATE = 0.9
MIN_OUTCOMES_FOR_OBSERVED_RATE = 10
FORECAST_HORIZON_YEARS = 10
# Where each QSIR Practitioner nominee is, with the label `wardprog status` prints. Every
# nominee is in exactly one, so they add up to the nominations.
QSIR_BUCKETS: dict[str, str] = {
    "trained": "Trained",
    "in_training": "In training (booked or attending)",
    "awaiting_allocation": "Nominated, awaiting a cohort",
    "waitlisted": "Waitlisted (cohorts full)",
    "deferred": "Deferred",
    "withdrawn": "Withdrawn",
}


def training_kpis(
    session: Session,
    as_of: date,
    target: int = DEFAULT_TARGET,
    capacity: int | None = None,
    tz: str = TIMEZONE,
) -> dict[str, Any]:
    """Trained to date vs ``target``, by site and by wave, plus a forecast date for the target.

    ``capacity`` is the seats per future cohort (default: the latest cohort's capacity, else 24).
    Returns plain JSON-friendly values (dates as ISO strings) for the CLI, artifacts and reports.
    Counts the nominees made by ``as_of``, each where they were then (``wardprog.queries``).
    """
    nominations = [
        n
        for n in session.exec(
            select(QsirNomination).where(QsirNomination.course == Course.practitioner)
        ).all()
        if _nominated_on(n, tz) <= as_of
    ]
    fundamentals_done = session.exec(
        select(QsirNomination.id).where(
            QsirNomination.course == Course.fundamentals,
            QsirNomination.status == NominationStatus.completed,
            col(QsirNomination.completed_on) <= as_of,
        )
    ).all()
    wards = {w.id: w for w in session.exec(select(Ward)).all()}
    sites = {s.id: s for s in session.exec(select(Site)).all()}
    waves = {w.id: w for w in session.exec(select(Wave)).all()}
    cohorts = session.exec(
        select(QsirCohort)
        .where(QsirCohort.course == Course.practitioner)
        .order_by(col(QsirCohort.start_date))
    ).all()

    # The first moment after ``as_of`` in the trust's zone: what happened by then counts.
    end = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz))

    def trained(n: QsirNomination) -> bool:
        return (
            n.status == NominationStatus.completed
            and n.completed_on is not None
            and n.completed_on <= as_of
        )

    active = (NominationStatus.booked, NominationStatus.attending)
    done = sorted((n for n in nominations if trained(n)), key=lambda n: n.completed_on or as_of)

    def bucket(n: QsirNomination) -> str:
        # Every nominee in exactly one bucket, so the buckets add up to the nominations. A
        # completion dated after ``as_of`` (a replay looking back) was still in training then.
        if trained(n):
            return "trained"
        if n.status_changed_at is not None and to_utc(n.status_changed_at) >= end:
            # Moved after ``as_of`` (deferred, withdrawn, waitlisted...): then still booked
            # if a seat had been taken, else waiting for a cohort.
            booked = n.booked_on is not None and n.booked_on <= as_of
            return "in_training" if booked else "awaiting_allocation"
        if n.status in active or n.status == NominationStatus.completed:
            # Booked after ``as_of``: still waiting for a cohort then.
            booked_later = n.booked_on is not None and n.booked_on > as_of
            return "awaiting_allocation" if booked_later else "in_training"
        if n.status == NominationStatus.nominated:
            return "awaiting_allocation"
        return n.status.value  # waitlisted, deferred, withdrawn

    buckets = Counter(bucket(n) for n in nominations)

    def empty_row(**keys: Any) -> dict[str, Any]:
        return {**keys, "nominated": 0, **dict.fromkeys(QSIR_BUCKETS, 0)}

    by_site: dict[str, dict[str, Any]] = {
        s.code: empty_row(site=s.code, name=s.name)
        for s in sorted(sites.values(), key=lambda s: s.code)
    }
    by_wave: dict[int | None, dict[str, Any]] = {}
    for n in nominations:
        site = sites[wards[n.ward_id].site_id]
        wave = waves.get(n.wave_id) if n.wave_id is not None else None
        number = wave.number if wave else None
        wave_row = by_wave.setdefault(number, empty_row(wave=number))
        for row in (by_site[site.code], wave_row):
            row["nominated"] += 1
            row[bucket(n)] += 1

    finished = [
        n
        for n in nominations
        if n.booked_on is not None
        and n.status
        in (NominationStatus.completed, NominationStatus.deferred, NominationStatus.withdrawn)
    ]
    if len(finished) >= MIN_OUTCOMES_FOR_OBSERVED_RATE:
        rate = sum(n.status == NominationStatus.completed for n in finished) / len(finished)
        rate_basis = f"observed over {len(finished)} finished nominees"
    else:
        rate = ASSUMED_COMPLETION_RATE
        rate_basis = f"assumed (fewer than {MIN_OUTCOMES_FOR_OBSERVED_RATE} finished so far)"

    seats = capacity or (cohorts[-1].capacity if cohorts else 24)
    forecast, basis = _forecast(as_of, target, done, nominations, cohorts, rate, seats)
    taken = Counter(n.cohort_id for n in nominations if n.status in active)
    upcoming = [
        {
            "cohort": c.code,
            "starts": c.start_date.isoformat(),
            "ends": c.session_dates[-1] if c.session_dates else c.start_date.isoformat(),
            "capacity": c.capacity,
            "booked": taken.get(c.id, 0),
        }
        for c in cohorts
        if c.session_dates and date.fromisoformat(c.session_dates[-1]) >= as_of
    ]
    return {
        "as_of": as_of.isoformat(),
        "target": target,
        "nominated": len(nominations),
        # Adds up to "nominated": one bucket per nominee (see QSIR_BUCKETS).
        "buckets": {name: buckets.get(name, 0) for name in QSIR_BUCKETS},
        "trained": len(done),
        "remaining": max(0, target - len(done)),
        "percent_of_target": round(100 * len(done) / target, 1) if target else 100.0,
        # The buckets again, so a reader of either gets the same figure for the same date.
        "in_training": buckets.get("in_training", 0),
        "waitlisted": buckets.get("waitlisted", 0),
        "awaiting_allocation": buckets.get("awaiting_allocation", 0),
        "deferred": buckets.get("deferred", 0),
        "withdrawn": buckets.get("withdrawn", 0),
        "fundamentals_trained": len(fundamentals_done),
        "by_site": list(by_site.values()),
        "by_wave": [by_wave[k] for k in sorted(by_wave, key=lambda k: (k is None, k or 0))],
        "cohorts": upcoming,
        "completion_rate": round(rate, 3),
        "completion_rate_basis": rate_basis,
        "forecast_target_date": forecast.isoformat() if forecast else None,
        "forecast_basis": basis,
    }


def _nominated_on(n: QsirNomination, tz: str) -> date:
    """The day the programme knew of a nomination: the day its row was written (on the engine's
    clock), not the date on the form, so a report on a day shows what was recorded by then."""
    return to_utc(n.created_at).astimezone(ZoneInfo(tz)).date()


def _forecast(
    as_of: date,
    target: int,
    done: list[QsirNomination],
    nominations: list[QsirNomination] | Any,
    cohorts: list[QsirCohort] | Any,
    rate: float,
    seats: int,
) -> tuple[date | None, str]:
    if len(done) >= target:
        reached = done[target - 1].completed_on if target > 0 else as_of
        return reached, "target reached"
    # Expected completions per date: current trainees finish with their cohort; cohorts not yet
    # started (existing or still to be planned) are assumed to fill to capacity.
    expected: list[tuple[date, float]] = []
    booked = Counter(
        n.cohort_id
        for n in nominations
        if n.status in (NominationStatus.booked, NominationStatus.attending)
    )
    for c in cohorts:
        end = date.fromisoformat(c.session_dates[-1]) if c.session_dates else c.start_date
        finish = max(end, as_of + timedelta(days=1))
        if c.start_date > as_of:
            expected.append((finish, max(c.capacity, booked.get(c.id, 0)) * rate))
        elif booked.get(c.id, 0):
            expected.append((finish, booked[c.id] * rate))
    last_start = max((c.start_date for c in cohorts), default=as_of)
    future = rules.plan_practitioner_cohorts(
        max(as_of, last_start), as_of.replace(year=as_of.year + FORECAST_HORIZON_YEARS), seats
    )
    known = {c.code for c in cohorts}
    expected += [(p.end_date, p.capacity * rate) for p in future if p.code not in known]
    total = float(len(done))
    for when, count in sorted(expected, key=lambda e: e[0]):
        total += count
        if total + 1e-9 >= target:
            return when, (
                f"cohorts not yet started fill to {seats} seats; completion rate {rate:.0%}"
            )
    return None, f"target not reached within {FORECAST_HORIZON_YEARS} years at current capacity"


def kpi_table(kpis: dict[str, Any]) -> Group:
    """Rich renderables for ``wardprog status``: headline, by site, by wave, upcoming cohorts."""
    headline = Table(title="QSIR Practitioner: staff trained", show_header=False)
    headline.add_column("measure")
    headline.add_column("value", justify="right")
    headline.add_row("Trained to date", f"{kpis['trained']} of {kpis['target']} (target)")
    headline.add_row("Progress", f"{kpis['percent_of_target']}%")
    headline.add_row(
        "Target reached (forecast)", kpis["forecast_target_date"] or "not within horizon"
    )
    headline.add_row("Forecast basis", kpis["forecast_basis"])

    nominees = Table(title=f"QSIR Practitioner nominees: {kpis['nominated']}")
    nominees.add_column("where they are")
    nominees.add_column("nominees", justify="right")
    for name, label in QSIR_BUCKETS.items():
        nominees.add_row(label, str(kpis["buckets"][name]))
    nominees.add_row("Total nominated", str(kpis["nominated"]), style="bold")

    columns = ("Nominated", *(QSIR_BUCKETS[b].split(" (")[0] for b in QSIR_BUCKETS))
    sites = Table(title="By site (nominees)")
    waves = Table(title="By wave (nominees)")
    for table, first in ((sites, "Site"), (waves, "Wave")):
        table.add_column(first)
        for name in columns:
            table.add_column(name, justify="right")
    for row in kpis["by_site"]:
        sites.add_row(
            f"{row['site']} {row['name']}",
            str(row["nominated"]),
            *(str(row[b]) for b in QSIR_BUCKETS),
        )
    for row in kpis["by_wave"]:
        waves.add_row(
            str(row["wave"]) if row["wave"] is not None else "-",
            str(row["nominated"]),
            *(str(row[b]) for b in QSIR_BUCKETS),
        )

    cohorts = Table(title="Current and upcoming cohorts")
    for name in ("Cohort", "Starts", "Ends", "Booked"):
        cohorts.add_column(name, justify="left" if name != "Booked" else "right")
    for row in kpis["cohorts"]:
        cohorts.add_row(
            row["cohort"], row["starts"], row["ends"], f"{row['booked']}/{row['capacity']}"
        )
    return Group(headline, nominees, sites, waves, cohorts)


# The name the status command and reports may also import.
training_kpi_tables = kpi_table
