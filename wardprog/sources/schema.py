"""The diagnostic extracts: their names, columns and types, as a data analyst supplies them.

One table per extract, the same in a folder (``<name>.csv``, ``.parquet`` or ``.xlsx``) and in
a SQL warehouse (a table called ``<name>``). Months are any date within the month (the first of
the month by convention); they are normalised to the first of the month on load.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ColumnType(StrEnum):
    text = "text"
    number = "number"
    integer = "integer"
    date = "date"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = True
    min_value: float | None = None
    max_value: float | None = None
    choices: tuple[str, ...] | None = None
    description: str = ""


@dataclass(frozen=True)
class ExtractSpec:
    name: str
    description: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


HARM_LEVELS = ("no_harm", "low", "moderate", "severe", "death")

_T, _N, _I, _D = ColumnType.text, ColumnType.number, ColumnType.integer, ColumnType.date


def _hours(name: str) -> Column:
    return Column(name, _N, min_value=0, description="hours in the month")


SAFE_STAFFING = ExtractSpec(
    "safe_staffing",
    "Monthly safe-staffing return (planned vs actual hours) per ward, as submitted to NHS England",
    (
        Column("ward_code", _T),
        Column("month", _D),
        _hours("rn_day_planned_hours"),
        _hours("rn_day_actual_hours"),
        _hours("rn_night_planned_hours"),
        _hours("rn_night_actual_hours"),
        _hours("hca_day_planned_hours"),
        _hours("hca_day_actual_hours"),
        _hours("hca_night_planned_hours"),
        _hours("hca_night_actual_hours"),
    ),
)

CENSUS = ExtractSpec(
    "census",
    "Midnight census: patients on the ward at 23:59 each day (occupied bed days, CHPPD)",
    (
        Column("ward_code", _T),
        Column("date", _D),
        Column("patients_at_midnight", _I, min_value=0),
    ),
)

WORKFORCE = ExtractSpec(
    "workforce",
    "ESR workforce summary per ward per month",
    (
        Column("ward_code", _T),
        Column("month", _D),
        Column("sickness_pct", _N, min_value=0, max_value=100),
        Column("vacancy_pct", _N, min_value=-100, max_value=100),
        Column("turnover_pct", _N, min_value=0, max_value=100),
    ),
)

INCIDENTS = ExtractSpec(
    "incidents",
    "Patient-safety incidents (LFPSE/Datix), one row per incident; falls and pressure ulcers "
    "are incidents with category 'fall' or 'pressure_ulcer'",
    (
        Column("incident_id", _T),
        Column("ward_code", _T),
        Column("date", _D),
        Column("category", _T),
        Column("harm_level", _T, choices=HARM_LEVELS),
    ),
)

COMPLAINTS = ExtractSpec(
    "complaints",
    "Formal complaints (PALS escalations excluded), one row per complaint",
    (
        Column("complaint_id", _T),
        Column("ward_code", _T),
        Column("received_date", _D),
    ),
)

FFT = ExtractSpec(
    "fft",
    "Friends and Family Test responses per ward per month",
    (
        Column("ward_code", _T),
        Column("month", _D),
        Column("responses", _I, min_value=0),
        Column("positive", _I, min_value=0, description="'very good' or 'good' answers"),
    ),
)

STAFF_SURVEY = ExtractSpec(
    "staff_survey",
    "NHS Staff Survey, one row per respondent x question (1-5 answer), with the ward/team",
    (
        Column("survey_year", _I, min_value=2000, max_value=2100),
        Column("respondent_id", _T),
        Column("ward_code", _T),
        Column("question", _T),
        Column("answer", _I, min_value=1, max_value=5),
    ),
)

EXTRACTS: tuple[ExtractSpec, ...] = (
    SAFE_STAFFING,
    CENSUS,
    WORKFORCE,
    INCIDENTS,
    COMPLAINTS,
    FFT,
    STAFF_SURVEY,
)
EXTRACTS_BY_NAME = {spec.name: spec for spec in EXTRACTS}
