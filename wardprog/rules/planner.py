"""Rollout planning: which wards join which quarterly wave.

The programme adds a fixed number of wards per site every quarter (5 per site, a wave of 15 for
three sites) until every ward is enrolled. Within a site, wards go in priority order (lower
first; a priority the team sets in the register, or one derived from diagnostics), then in
register order, so the plan is deterministic and explainable to ward managers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from dateutil.relativedelta import relativedelta


@dataclass(frozen=True)
class PlannerWard:
    code: str
    site_code: str
    priority: int | None = None


@dataclass(frozen=True)
class PlannedWave:
    number: int
    quarter_start: date
    quarter_end: date
    ward_codes: tuple[str, ...]


def wave_bounds(
    programme_start: date, number: int, wave_length_months: int = 3
) -> tuple[date, date]:
    """First and last day of wave ``number`` (1-based); waves are contiguous periods.

    Waves run on whole months from the month the programme starts in, so a programme starting on
    the first working day of January has quarters Jan-Mar, Apr-Jun, ... and a launch on the first
    working day of a quarter always falls inside its own wave.
    """
    if number < 1:
        raise ValueError("wave numbers start at 1")
    anchor = programme_start.replace(day=1)
    start = anchor + relativedelta(months=wave_length_months * (number - 1))
    end = anchor + relativedelta(months=wave_length_months * number) - timedelta(days=1)
    return start, end


def wave_number_on(programme_start: date, as_of: date, wave_length_months: int = 3) -> int | None:
    """The wave whose period contains ``as_of``, or None before the programme starts."""
    if as_of < programme_start.replace(day=1):
        return None
    months = (as_of.year - programme_start.year) * 12 + as_of.month - programme_start.month
    return months // wave_length_months + 1


def plan_rollout(
    wards: Sequence[PlannerWard],
    programme_start: date,
    wards_per_site_per_wave: int = 5,
    wave_length_months: int = 3,
) -> list[PlannedWave]:
    """Assign every ward to exactly one wave, at most ``wards_per_site_per_wave`` per site each.

    ``wards`` is in register order; that order breaks priority ties.
    """
    if wards_per_site_per_wave < 1:
        raise ValueError("wards_per_site_per_wave must be at least 1")
    codes = [w.code for w in wards]
    if len(set(codes)) != len(codes):
        dupes = sorted({c for c in codes if codes.count(c) > 1})
        raise ValueError(f"ward codes appear more than once: {', '.join(dupes)}")

    by_site: dict[str, list[tuple[int, PlannerWard]]] = {}
    for index, ward in enumerate(wards):
        by_site.setdefault(ward.site_code, []).append((index, ward))
    queues = {
        site: [w for _, w in sorted(items, key=lambda iw: (_priority_key(iw[1]), iw[0]))]
        for site, items in by_site.items()
    }

    waves: list[PlannedWave] = []
    number = 0
    while any(queues.values()):
        number += 1
        chosen: list[str] = []
        for site in sorted(queues):
            take = queues[site][:wards_per_site_per_wave]
            queues[site] = queues[site][wards_per_site_per_wave:]
            chosen.extend(w.code for w in take)
        start, end = wave_bounds(programme_start, number, wave_length_months)
        waves.append(PlannedWave(number, start, end, tuple(chosen)))
    return waves


def _priority_key(ward: PlannerWard) -> tuple[int, int]:
    # Wards with a priority go before wards without one.
    return (0, ward.priority) if ward.priority is not None else (1, 0)


def shortfalls(
    plan: Sequence[PlannedWave],
    site_of: dict[str, str],
    wards_per_site_per_wave: int,
    from_wave: int = 1,
) -> list[str]:
    """Where the plan cannot keep ``wards_per_site_per_wave`` wards per site per wave.

    One line per (wave, site) from ``from_wave`` on with fewer wards than the target (a site
    with no wards left is not a shortfall: it has finished), or more than the target.
    """
    lines: list[str] = []
    sites = sorted(set(site_of.values()))
    last_wave = {
        s: max(
            (w.number for w in plan if any(site_of.get(c) == s for c in w.ward_codes)), default=0
        )
        for s in sites
    }
    for wave in plan:
        if wave.number < from_wave:
            continue
        for site in sites:
            count = sum(1 for c in wave.ward_codes if site_of.get(c) == site)
            if count == wards_per_site_per_wave or wave.number > last_wave[site]:
                continue
            why = (
                "no more wards left on the site"
                if wave.number == last_wave[site] and count < wards_per_site_per_wave
                else "a ward was moved after the wave opened"
                if count < wards_per_site_per_wave
                else "more wards than the target"
            )
            lines.append(
                f"wave {wave.number}: {site} has {count} of {wards_per_site_per_wave} ({why})"
            )
    return lines
