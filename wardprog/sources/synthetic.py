"""Synthetic but realistic diagnostic extracts for a demo trust (and for benchmarks).

Rates follow published NHS figures, by specialty, so the demo's charts look like a real ward's
(each ward's own level is drawn inside its specialty's range, then varies month to month):

- **Care hours per patient day** and **fill rates**: NHS England *Safe staffing* monthly
  ward returns and the Model Hospital CHPPD compartment (adult general wards about 7-9 CHPPD,
  elderly care a little higher with more HCA hours, paediatrics 10-14 under RCN ratios of 1:3 to
  1:4, critical care 25-32 with one nurse to one or two patients (GPICS), maternity 8-12, mental
  health 9-14 with heavy HCA use for enhanced observation). Registered-nurse fill runs in the
  mid-90s; HCA fill is often over 100% because HCAs are booked to cover RN gaps.
- **Falls per 1,000 occupied bed days**: Royal College of Physicians, National Audit of Inpatient
  Falls (NAIF) and NHS Improvement, *The incidence and costs of inpatient falls* (2017): about
  6.6 on acute adult wards, 8-10 in elderly care and stroke, 3-4 in surgery, around 1 in
  paediatrics, maternity and critical care (patients sedated or young).
- **Hospital-acquired pressure ulcers per 1,000 OBD**: NHS Safety Thermometer and the National
  Wound Care Strategy (about 1-2 on adult wards, 2-3 in elderly care, highest in critical care
  where devices cause them, near zero in paediatrics and maternity).
- **Sickness absence**: NHS Digital *NHS Sickness Absence Rates* (nursing and midwifery 5-6%,
  higher in maternity and mental health); **vacancy**: NHS Digital *NHS Vacancy Statistics*
  (registered nursing around 8-10%, never below 0); **turnover**: NHS Digital *NHS Workforce
  Statistics* leaver rates (10-14%, higher in mental health).
- **Friends and Family Test**: NHS England FFT inpatient data (about 94% positive; maternity
  similar, mental health inpatients lower, 80-90%).

Wards are told apart by the register's specialty (``specialties``), grouped into the seven
profiles in :data:`PROFILES` by :func:`specialty_group`; without specialties every ward uses
:data:`GENERAL`, a generic acute ward (the generator's behaviour before specialties existed).

About a quarter of wards carry a genuine step change (a "shift") late in the period, so the
diagnostic pack has real special-cause signals to take to the engagement event; the injected
shifts are written to ``_synthetic_shifts.csv`` beside the extracts (the loader ignores it).
Everything is deterministic for a given seed.

For the programme's own evaluation the generator can also inject a *known effect*: a modest,
configurable improvement from a given month per ward (the month after its engagement event) on
some metrics and none on others (:class:`KnownEffects`), written to ``_synthetic_effects.csv``.
The stepped-wedge evaluation then has something true to find, and nothing to find elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from wardprog.rules.metrics import QUESTION_THEMES

HARM_P = {"no_harm": 0.66, "low": 0.27, "moderate": 0.05, "severe": 0.015, "death": 0.005}
# Incidents per 1,000 occupied bed days.
FALLS_RATE = 6.0
PRESSURE_ULCER_RATE = 1.5
OTHER_INCIDENT_RATE = 22.0
OTHER_CATEGORIES = ("medication", "staffing", "documentation", "infection", "violence")


@dataclass(frozen=True)
class SpecialtyProfile:
    """What a ward of one specialty looks like in the published figures (see the docstring).

    Ratios are patients per member of staff on the planned rota (RN day, RN night, HCA day, HCA
    night); ``(low, high)`` pairs bound each ward's own level. ``chppd`` is the published range
    a ward's CHPPD should fall in: not used to generate, only to check what was generated.
    """

    ratios: tuple[float, float, float, float]
    occupancy: tuple[float, float]
    rn_fill: float
    hca_fill: float
    falls: tuple[float, float]
    pressure_ulcers: tuple[float, float]
    sickness: tuple[float, float]
    vacancy: tuple[float, float]
    turnover: tuple[float, float]
    fft: tuple[float, float]
    chppd: tuple[float, float]
    beds: tuple[int, int]


# A generic acute ward: what every ward looked like before the generator knew specialties.
GENERAL = SpecialtyProfile(
    ratios=(7, 9, 10, 12), occupancy=(0.86, 0.97), rn_fill=0.95, hca_fill=1.05,
    falls=(0.7 * FALLS_RATE, 1.3 * FALLS_RATE),
    pressure_ulcers=(0.7 * PRESSURE_ULCER_RATE, 1.3 * PRESSURE_ULCER_RATE),
    sickness=(3.5, 6.5), vacancy=(2, 14), turnover=(8, 16), fft=(0.9, 0.97),
    chppd=(5.5, 8.5), beds=(18, 32),
)  # fmt: skip
PROFILES: dict[str, SpecialtyProfile] = {
    "adult medicine": SpecialtyProfile(
        ratios=(6, 8, 8, 10), occupancy=(0.90, 0.97), rn_fill=0.94, hca_fill=1.06,
        falls=(5.0, 7.5), pressure_ulcers=(1.0, 2.0), sickness=(4.5, 6.5), vacancy=(5, 14),
        turnover=(9, 15), fft=(0.91, 0.96), chppd=(6.5, 9.5), beds=(18, 32),
    ),
    "surgery": SpecialtyProfile(
        ratios=(6, 8, 9, 12), occupancy=(0.82, 0.93), rn_fill=0.95, hca_fill=1.03,
        falls=(2.5, 4.5), pressure_ulcers=(0.6, 1.4), sickness=(4.0, 6.0), vacancy=(4, 12),
        turnover=(9, 14), fft=(0.93, 0.98), chppd=(6.0, 9.5), beds=(16, 30),
    ),
    "elderly care": SpecialtyProfile(
        ratios=(7, 9, 5, 7), occupancy=(0.93, 0.98), rn_fill=0.93, hca_fill=1.08,
        falls=(7.5, 10.5), pressure_ulcers=(1.8, 3.0), sickness=(5.0, 7.0), vacancy=(6, 15),
        turnover=(10, 16), fft=(0.90, 0.96), chppd=(7.0, 10.0), beds=(20, 32),
    ),
    "critical care": SpecialtyProfile(
        ratios=(1.2, 1.2, 6, 8), occupancy=(0.78, 0.88), rn_fill=0.95, hca_fill=1.0,
        falls=(0.3, 1.2), pressure_ulcers=(2.5, 4.5), sickness=(3.8, 5.5), vacancy=(3, 10),
        turnover=(8, 13), fft=(0.94, 0.99), chppd=(24.0, 33.0), beds=(8, 16),
    ),
    "paediatrics": SpecialtyProfile(
        ratios=(3, 4, 8, 12), occupancy=(0.72, 0.86), rn_fill=0.95, hca_fill=1.0,
        falls=(0.3, 1.2), pressure_ulcers=(0.1, 0.4), sickness=(4.0, 5.8), vacancy=(4, 11),
        turnover=(8, 13), fft=(0.92, 0.97), chppd=(10.0, 14.5), beds=(14, 24),
    ),
    "maternity": SpecialtyProfile(
        ratios=(5, 6, 8, 10), occupancy=(0.72, 0.86), rn_fill=0.93, hca_fill=1.02,
        falls=(0.2, 0.8), pressure_ulcers=(0.05, 0.3), sickness=(5.5, 7.5), vacancy=(6, 14),
        turnover=(10, 15), fft=(0.91, 0.97), chppd=(8.0, 12.5), beds=(18, 28),
    ),
    "mental health": SpecialtyProfile(
        ratios=(8, 10, 3.5, 4.5), occupancy=(0.90, 0.98), rn_fill=0.92, hca_fill=1.12,
        falls=(3.0, 6.0), pressure_ulcers=(0.2, 0.6), sickness=(5.5, 7.5), vacancy=(8, 18),
        turnover=(12, 18), fft=(0.80, 0.90), chppd=(9.0, 14.5), beds=(14, 22),
    ),
}  # fmt: skip
# Register specialties (as wards name them) -> the profile whose published figures they share.
SPECIALTY_GROUPS: dict[str, str] = {
    "acute medicine": "adult medicine", "cardiology": "adult medicine",
    "respiratory": "adult medicine", "gastroenterology": "adult medicine",
    "renal": "adult medicine", "oncology": "adult medicine", "haematology": "adult medicine",
    "diabetes and endocrinology": "adult medicine", "general medicine": "adult medicine",
    "elderly care": "elderly care", "stroke": "elderly care", "rehabilitation": "elderly care",
    "general surgery": "surgery", "orthopaedics": "surgery", "urology": "surgery",
    "vascular surgery": "surgery", "gynaecology": "surgery", "short stay surgery": "surgery",
    "critical care": "critical care", "paediatrics": "paediatrics", "maternity": "maternity",
    "mental health": "mental health",
}  # fmt: skip


def specialty_group(specialty: str | None) -> str | None:
    """The profile a register specialty belongs to (``None``: unknown, use :data:`GENERAL`)."""
    if not specialty:
        return None
    key = specialty.strip().lower()
    return key if key in PROFILES else SPECIALTY_GROUPS.get(key)


def profile_for(specialty: str | None) -> SpecialtyProfile:
    group = specialty_group(specialty)
    return PROFILES[group] if group is not None else GENERAL


@dataclass(frozen=True)
class Shift:
    """A genuine change injected from ``month`` onwards (what the SPC should find)."""

    ward_code: str
    metric: str
    month: date
    factor: float
    kind: str  # concern | improvement


# Metric families the generator can move, and the ward-month metrics each one drives.
EFFECT_METRICS: dict[str, tuple[str, ...]] = {
    "falls": ("falls_per_1000_obd",),
    "pressure_ulcers": ("pressure_ulcers_per_1000_obd",),
    "sickness": ("sickness_pct",),
    "fft": ("fft_positive_pct",),
    "rn_fill": ("rn_day_fill_pct", "rn_night_fill_pct"),
}


@dataclass(frozen=True)
class KnownEffects:
    """A multiplicative change per metric family from each ward's start month onwards.

    ``factors``: family (see ``EFFECT_METRICS``) -> factor, e.g. ``{"falls": 0.8}`` for 20% fewer
    falls; families not named are left alone. ``starts``: ward code -> first month affected
    (wards not named never change).
    """

    factors: Mapping[str, float]
    starts: Mapping[str, date] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.factors) - set(EFFECT_METRICS))
        if unknown:
            raise ValueError(
                f"unknown metric family {unknown}: use one of {', '.join(EFFECT_METRICS)}"
            )

    def shifts(self) -> list[Shift]:
        return [
            Shift(code, family, start.replace(day=1), factor, "programme")
            for family, factor in self.factors.items()
            for code, start in sorted(self.starts.items())
        ]


# The demo's programme effect: fewer falls, pressure ulcers and less sickness after a ward
# joins; fill rates, FFT, complaints and the rest untouched, so the evaluation must find nothing
# there.
DEMO_EFFECTS: dict[str, float] = {"falls": 0.8, "pressure_ulcers": 0.75, "sickness": 0.85}


# Share of wards given a random step change of their own (unrelated to the programme).
SHIFT_SHARE = 0.28
_SHIFT_CHOICES: tuple[tuple[str, float, str], ...] = (
    ("falls", 2.2, "concern"),
    ("falls", 0.35, "improvement"),
    ("sickness", 1.8, "concern"),
    ("sickness", 0.55, "improvement"),
    ("fft", 0.85, "concern"),
    ("rn_fill", 0.85, "concern"),
    ("pressure_ulcers", 2.5, "concern"),
)


def _months(start: date, end: date) -> pd.DatetimeIndex:
    return pd.date_range(start.replace(day=1), end.replace(day=1), freq="MS")


def _plan_shifts(
    rng: np.random.Generator,
    wards: list[tuple[str, str, int]],
    months: pd.DatetimeIndex,
    share: float = SHIFT_SHARE,
) -> list[Shift]:
    shifts: list[Shift] = []
    if len(months) < 18:
        return shifts
    for code, _site, _beds in wards:
        if rng.random() >= share:
            continue
        metric, factor, kind = _SHIFT_CHOICES[int(rng.integers(len(_SHIFT_CHOICES)))]
        # Late enough to be news, early enough that 7+ points show the shift.
        at = months[int(rng.integers(len(months) - 16, len(months) - 8))]
        shifts.append(Shift(code, metric, at.date(), factor, kind))
    return shifts


def _factor(
    shifts: list[Shift], metric: str, codes: np.ndarray, month_starts: np.ndarray
) -> np.ndarray:
    f = np.ones(len(codes))
    for s in shifts:
        if s.metric == metric:
            f[(codes == s.ward_code) & (month_starts >= np.datetime64(s.month))] *= s.factor
    return f


def generate_extracts(
    wards: list[tuple[str, str, int]],
    out_dir: Path,
    start: date,
    end: date,
    seed: int = 7,
    *,
    fmt: str = "csv",
    effects: KnownEffects | None = None,
    shift_share: float = SHIFT_SHARE,
    specialties: Mapping[str, str] | None = None,
) -> list[Path]:
    """Write every extract for ``wards`` (ward_code, site_code, beds) from ``start`` to ``end``.

    Returns the paths written (``fmt`` is ``csv`` or ``parquet``). The same arguments always
    produce the same files. ``effects`` injects a known programme effect (none by default);
    ``shift_share`` is the share of wards given a random step change of their own;
    ``specialties`` (ward code -> register specialty) gives each ward its specialty's staffing,
    harm, workforce and FFT levels (a ward not named is a generic acute ward).
    """
    if not wards:
        raise ValueError("no wards to generate extracts for")
    if end < start:
        raise ValueError("end is before start")
    rng = np.random.default_rng(seed)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    months = _months(start, end)
    random_shifts = _plan_shifts(rng, wards, months, shift_share)
    # Added after the random shifts are drawn, so they are the same with or without an effect.
    injected = effects.shifts() if effects is not None else []
    shifts = random_shifts + injected
    codes = np.array([w[0] for w in wards], dtype=object)
    beds = np.array([max(int(w[2]), 1) for w in wards])
    n_w, n_m = len(wards), len(months)
    profiles = [profile_for((specialties or {}).get(w[0])) for w in wards]

    def level(name: str) -> tuple[np.ndarray, np.ndarray]:
        """Per-ward (low, high) bounds of one profile range, for one draw per ward."""
        bounds = np.array([getattr(p, name) for p in profiles], dtype=float)
        return bounds[:, 0], bounds[:, 1]

    # Midnight census: occupancy runs high (NHS general and acute occupancy is ~92-95%).
    days = pd.date_range(months[0], months[-1] + pd.offsets.MonthEnd(0), freq="D")
    occ_level = rng.uniform(*level("occupancy"), n_w)
    winter = 0.03 * np.cos(2 * np.pi * (days.dayofyear.to_numpy() - 15) / 365.25)
    occ = occ_level[:, None] + winter[None, :] + rng.normal(0, 0.04, (n_w, len(days)))
    patients = np.clip(np.rint(occ * beds[:, None]), 0, beds[:, None]).astype(int)
    census = pd.DataFrame(
        {
            "ward_code": np.repeat(codes, len(days)),
            "date": np.tile(days.strftime("%Y-%m-%d"), n_w),
            "patients_at_midnight": patients.ravel(),
        }
    )
    month_idx = (days.year - months[0].year) * 12 + (days.month - months[0].month)
    # Occupied bed days per ward-month: the month's midnight counts summed.
    obd = pd.DataFrame(patients.T).groupby(month_idx.to_numpy()).sum().to_numpy().T.astype(float)

    grid_codes = np.repeat(codes, n_m)
    grid_months = np.tile(months.to_numpy(), n_w)
    month_text = np.tile(months.strftime("%Y-%m-%d"), n_w)
    days_in_month = np.tile(months.days_in_month.to_numpy(), n_w)
    grid_beds = np.repeat(beds, n_m)

    # Safe staffing: planned shifts from the specialty's ratios (a generic ward: RN 1:7 day,
    # 1:9 night; HCA 1:10/1:12), 12.5-hour day shifts, 11.5-hour nights.
    ratios = np.array([p.ratios for p in profiles], dtype=float).repeat(n_m, axis=0)

    def planned(column: int, hours: float) -> np.ndarray:
        return np.ceil(grid_beds / ratios[:, column]) * hours * days_in_month

    rn_mean = np.array([p.rn_fill for p in profiles]).repeat(n_m)
    hca_mean = np.array([p.hca_fill for p in profiles]).repeat(n_m)
    rn_fill = np.clip(
        rng.normal(rn_mean, 0.035, n_w * n_m) * _factor(shifts, "rn_fill", grid_codes, grid_months),
        0.5,
        1.2,
    )
    staffing = pd.DataFrame({"ward_code": grid_codes, "month": month_text})
    for grp, shift, column, hours in (
        ("rn", "day", 0, 12.5),
        ("rn", "night", 1, 11.5),
        ("hca", "day", 2, 12.5),
        ("hca", "night", 3, 11.5),
    ):
        plan = planned(column, hours)
        if grp == "rn":
            fill = rn_fill * rng.normal(1.0, 0.01, n_w * n_m)
        else:
            # HCA fill often runs over 100%: HCAs are booked to cover registered-nurse gaps.
            fill = np.clip(rng.normal(hca_mean, 0.075, n_w * n_m), 0.6, 1.5)
        staffing[f"{grp}_{shift}_planned_hours"] = np.round(plan, 1)
        staffing[f"{grp}_{shift}_actual_hours"] = np.round(plan * fill, 1)

    sick_base = rng.uniform(*level("sickness"), n_w).repeat(n_m)
    workforce = pd.DataFrame(
        {
            "ward_code": grid_codes,
            "month": month_text,
            "sickness_pct": np.round(
                np.clip(
                    (sick_base + rng.normal(0, 0.9, n_w * n_m))
                    * _factor(shifts, "sickness", grid_codes, grid_months),
                    0,
                    60,
                ),
                2,
            ),
            # A vacancy rate is never negative: an over-established ward reports 0%.
            "vacancy_pct": np.round(
                np.clip(
                    rng.uniform(*level("vacancy"), n_w).repeat(n_m) + rng.normal(0, 1.5, n_w * n_m),
                    0,
                    60,
                ),
                2,
            ),
            "turnover_pct": np.round(
                np.clip(
                    rng.uniform(*level("turnover"), n_w).repeat(n_m)
                    + rng.normal(0, 1.2, n_w * n_m),
                    0,
                    60,
                ),
                2,
            ),
        }
    )

    obd_flat = obd.ravel()
    ward_risk = rng.uniform(0.7, 1.3, n_w).repeat(n_m)
    # Each ward's falls and pressure-ulcer rate within its specialty's range (the ward's own risk
    # draw places it there); other incidents and complaints follow the same ward risk.
    position = (ward_risk - 0.7) / 0.6
    falls_lo, falls_hi = (b.repeat(n_m) for b in level("falls"))
    pu_lo, pu_hi = (b.repeat(n_m) for b in level("pressure_ulcers"))
    falls_rate = falls_lo + position * (falls_hi - falls_lo)
    pu_rate = pu_lo + position * (pu_hi - pu_lo)
    counts = {
        "fall": rng.poisson(
            obd_flat / 1000 * falls_rate * _factor(shifts, "falls", grid_codes, grid_months)
        ),
        "pressure_ulcer": rng.poisson(
            obd_flat / 1000 * pu_rate * _factor(shifts, "pressure_ulcers", grid_codes, grid_months)
        ),
        "other": rng.poisson(obd_flat / 1000 * OTHER_INCIDENT_RATE * ward_risk),
    }
    parts = []
    for category, per_cell in counts.items():
        cell = np.repeat(np.arange(n_w * n_m), per_cell)
        cats = (
            np.full(len(cell), category, dtype=object)
            if category != "other"
            else np.array(OTHER_CATEGORIES, dtype=object)[
                rng.integers(len(OTHER_CATEGORIES), size=len(cell))
            ]
        )
        parts.append((cell, cats))
    cell = np.concatenate([p[0] for p in parts])
    cats = np.concatenate([p[1] for p in parts])
    day_offset = np.floor(rng.random(len(cell)) * days_in_month[cell]).astype("timedelta64[D]")
    inc_dates = grid_months[cell].astype("datetime64[D]") + day_offset
    harm = rng.choice(list(HARM_P), size=len(cell), p=list(HARM_P.values()))
    order = np.lexsort((inc_dates, grid_codes[cell].astype(str)))
    incidents = pd.DataFrame(
        {
            "incident_id": [f"INC{i:07d}" for i in range(1, len(cell) + 1)],
            "ward_code": grid_codes[cell][order],
            "date": pd.DatetimeIndex(inc_dates[order]).strftime("%Y-%m-%d"),
            "category": cats[order],
            "harm_level": harm[order],
        }
    )

    n_complaints = rng.poisson(0.7 * ward_risk)
    ccell = np.repeat(np.arange(n_w * n_m), n_complaints)
    c_offset = np.floor(rng.random(len(ccell)) * days_in_month[ccell]).astype("timedelta64[D]")
    complaints = pd.DataFrame(
        {
            "complaint_id": [f"CMP{i:06d}" for i in range(1, len(ccell) + 1)],
            "ward_code": grid_codes[ccell],
            "received_date": pd.DatetimeIndex(
                grid_months[ccell].astype("datetime64[D]") + c_offset
            ).strftime("%Y-%m-%d"),
        }
    )

    responses = rng.poisson(np.maximum(grid_beds * 1.1, 3))
    p_pos = np.clip(
        rng.uniform(*level("fft"), n_w).repeat(n_m)
        * _factor(shifts, "fft", grid_codes, grid_months),
        0,
        1,
    )
    fft = pd.DataFrame(
        {
            "ward_code": grid_codes,
            "month": month_text,
            "responses": responses,
            "positive": rng.binomial(responses, p_pos),
        }
    )

    staff_survey = _staff_survey(rng, codes, beds, start, end)

    tables = {
        "safe_staffing": staffing,
        "census": census,
        "workforce": workforce,
        "incidents": incidents,
        "complaints": complaints,
        "fft": fft,
        "staff_survey": staff_survey,
    }
    written = [_write(frame, out_dir / name, fmt) for name, frame in tables.items()]
    pd.DataFrame(
        [
            {
                "ward_code": s.ward_code,
                "metric": s.metric,
                "month": s.month.isoformat(),
                "factor": s.factor,
                "kind": s.kind,
            }
            for s in random_shifts
        ],
        columns=["ward_code", "metric", "month", "factor", "kind"],
    ).to_csv(out_dir / "_synthetic_shifts.csv", index=False)
    pd.DataFrame(
        [
            {
                "ward_code": s.ward_code,
                "family": s.metric,
                "metrics": " ".join(EFFECT_METRICS[s.metric]),
                "from_month": s.month.isoformat(),
                "factor": s.factor,
            }
            for s in injected
        ],
        columns=["ward_code", "family", "metrics", "from_month", "factor"],
    ).to_csv(out_dir / "_synthetic_effects.csv", index=False)
    return written


def _staff_survey(
    rng: np.random.Generator, codes: np.ndarray, beds: np.ndarray, start: date, end: date
) -> pd.DataFrame:
    """The NHS Staff Survey runs each autumn; one row per respondent x question."""
    years = [y for y in range(start.year, end.year + 1) if date(y, 11, 30) <= end]
    if not years:
        years = [end.year]
    questions = list(QUESTION_THEMES)
    frames = []
    for year in years:
        # Roughly 45% of ~1.4 staff per bed respond; a few small teams fall under the
        # suppression threshold, as they do in real survey returns.
        n_resp = rng.binomial(np.maximum(beds * 1.4, 4).astype(int), 0.45)
        ward_mood = rng.normal(3.6, 0.3, len(codes))
        resp_ward = np.repeat(np.arange(len(codes)), n_resp)
        resp_mood = ward_mood[resp_ward] + rng.normal(0, 0.5, len(resp_ward))
        answers = np.clip(
            np.rint(resp_mood[:, None] + rng.normal(0, 0.8, (len(resp_ward), len(questions)))),
            1,
            5,
        ).astype(int)
        reverse = np.array([QUESTION_THEMES[q][1] for q in questions])
        answers[:, reverse] = 6 - answers[:, reverse]
        resp_ids = np.array([f"R{year}-{i:06d}" for i in range(len(resp_ward))], dtype=object)
        frames.append(
            pd.DataFrame(
                {
                    "survey_year": year,
                    "respondent_id": np.repeat(resp_ids, len(questions)),
                    "ward_code": np.repeat(codes[resp_ward], len(questions)),
                    "question": np.tile(np.array(questions, dtype=object), len(resp_ward)),
                    "answer": answers.ravel(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _write(frame: pd.DataFrame, stem: Path, fmt: str) -> Path:
    if fmt == "csv":
        path = stem.with_suffix(".csv")
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        path = stem.with_suffix(".parquet")
        frame.to_parquet(path, index=False)
    else:
        raise ValueError(f"unsupported format {fmt!r}: use csv or parquet")
    return path
