"""The QI strategy's scorecard ("Measures by the end of 22/23"): each KPI from plain facts.

Pure: the service gathers the facts (projects, scores, coaching, trained staff, QI Cafés) as
of a date and hands them here; nothing in this module reads a database or a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

MODEST_IMPROVEMENT = 3.0  # IHI 3.0: "modest improvement"


@dataclass(frozen=True)
class ProjectFacts:
    """One project as the scorecard sees it on the day."""

    status: str  # active | completed | stopped
    started_on: date
    completed_on: date | None
    latest_score: float | None
    ppi_level: str  # none | informed | consulted | involved | co_produced
    co2e_kg: float | None
    sustainability_note: str
    coached: bool  # at least one coaching session by the day


@dataclass(frozen=True)
class Targets:
    modest_improvement_pct: float = 75
    ppi_pct: float = 20
    staff_trained: int = 100
    projects_coached: int = 40
    qi_cafe_months: int = 12
    sustainability_pct: float = 25


@dataclass(frozen=True)
class Kpi:
    kpi: str
    label: str
    value: float | None
    target: float
    numerator: int
    denominator: int | None
    met: bool
    unit: str  # "%" or "count"

    @property
    def shown(self) -> str:
        if self.value is None:
            return "-"
        return f"{self.value:.1f}%" if self.unit == "%" else f"{self.value:g}"

    def as_json(self) -> dict[str, Any]:
        return {
            "kpi": self.kpi,
            "label": self.label,
            "value": self.value,
            "target": self.target,
            "numerator": self.numerator,
            "denominator": self.denominator,
            "met": self.met,
            "unit": self.unit,
        }


def _pct(kpi: str, label: str, num: int, den: int, target: float) -> Kpi:
    value = round(100 * num / den, 1) if den else None
    return Kpi(kpi, label, value, target, num, den, value is not None and value >= target, "%")


def _count(kpi: str, label: str, num: int, den: int | None, target: float) -> Kpi:
    return Kpi(kpi, label, float(num), target, num, den, num >= target, "count")


def months_back(as_of: date, months: int = 12) -> list[tuple[int, int]]:
    """The ``months`` calendar months ending with as_of's month, oldest first."""
    out = []
    year, month = as_of.year, as_of.month
    for _ in range(months):
        out.append((year, month))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def scorecard(
    projects: Sequence[ProjectFacts],
    *,
    staff_trained: int,
    qi_cafe_days: Iterable[date],
    as_of: date,
    targets: Targets,
) -> list[Kpi]:
    """Every KPI on ``as_of``. Projects started after the day are not counted.

    - completed projects scoring at least 3.0: of projects completed by the day, those whose
      latest score by the day is 3.0 or more;
    - PPI / sustainability: of every project started by the day (whatever its status), those
      recording patient and public involvement above "none" / a CO2e estimate or note;
    - coached: projects with at least one coaching session (of every project started);
    - QI Café months: of the 12 calendar months ending with the day's, those with a QI Café.
    """
    started = [p for p in projects if p.started_on <= as_of]
    completed = [
        p
        for p in started
        if p.status == "completed" and p.completed_on is not None and p.completed_on <= as_of
    ]
    modest = [p for p in completed if (p.latest_score or 0) >= MODEST_IMPROVEMENT]
    ppi = [p for p in started if p.ppi_level != "none"]
    green = [p for p in started if p.co2e_kg is not None or p.sustainability_note.strip()]
    coached = [p for p in started if p.coached]
    window = set(months_back(as_of))
    cafe_months = {(d.year, d.month) for d in qi_cafe_days if d <= as_of} & window
    return [
        _pct(
            "completed_projects_modest_improvement_pct",
            "Completed projects scoring 3.0+ (modest improvement)",
            len(modest),
            len(completed),
            targets.modest_improvement_pct,
        ),
        _pct(
            "projects_with_ppi_pct",
            "Projects with patient and public involvement",
            len(ppi),
            len(started),
            targets.ppi_pct,
        ),
        _count(
            "staff_trained",
            "Staff trained in QSIR / QI Fundamentals or similar",
            staff_trained,
            None,
            targets.staff_trained,
        ),
        _count(
            "projects_coached",
            "Projects supported or coached by QI advisers",
            len(coached),
            len(started),
            targets.projects_coached,
        ),
        _count(
            "qi_cafe_months_held",
            "Months with a QI Café held (last 12)",
            len(cafe_months),
            len(window),
            targets.qi_cafe_months,
        ),
        _pct(
            "projects_with_sustainability_pct",
            "Projects with a sustainable-healthcare aspect (CO2e)",
            len(green),
            len(started),
            targets.sustainability_pct,
        ),
    ]
