"""What cannot be true in the diagnostic extracts, found before anything is computed.

``validate.py`` checks each cell (a number where a number belongs, a percentage within 0-100);
these rules check rows against each other and against the calendar, where a typed, well-formed
extract can still be impossible and, unchecked, would mislead a ward in its pack (a ward-month
sent twice is summed: CHPPD 14.0 instead of 7.0; more positive FFT answers than responses shows
"% positive 300"):

- ``duplicate``: a ward-month (or ward-day, or incident/complaint id) appears more than once;
  both rows are named;
- ``part_exceeds_whole``: FFT positive answers above responses;
- ``actual_beyond_planned``: actual hours above planned by more than
  ``Settings.extract_max_actual_to_planned`` (fill rates of 120-150% happen; 10x do not);
- ``zero_planned``: a registered-nurse shift with no planned hours (the fill rate would vanish
  from the pack);
- ``future``: a month after the month of ``as_of``;
- ``gap``: a monthly return missing a month between a ward's first and last month;
- ``out_of_range``: a value outside its column's range in ``schema.py`` (a percentage outside
  0-100, a negative count).

Incidents arrive one row per incident (no per-harm totals to add up), so there is no "harm
levels summing past the total" to check in this schema.

Every finding names its ward, file, row and column; each rule reports at most
:data:`MAX_PER_RULE` rows per file, then one line counting the rest, so output stays short.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

from wardprog.errors import InputFileError, RowProblem
from wardprog.sources.schema import EXTRACTS_BY_NAME

MAX_PER_RULE = 10

# Extract -> the columns that identify one row (a second row with the same key is a duplicate).
KEYS: dict[str, tuple[str, ...]] = {
    "safe_staffing": ("ward_code", "month"),
    "census": ("ward_code", "date"),
    "workforce": ("ward_code", "month"),
    "fft": ("ward_code", "month"),
    "incidents": ("incident_id",),
    "complaints": ("complaint_id",),
    "staff_survey": ("survey_year", "respondent_id", "question"),
}
MONTHLY = ("safe_staffing", "workforce")  # returns expected every month the ward is open
DATE_COLUMNS = {
    "safe_staffing": "month",
    "census": "date",
    "workforce": "month",
    "fft": "month",
    "incidents": "date",
    "complaints": "received_date",
}
HOUR_PAIRS = tuple(
    (f"{grp}_{shift}_planned_hours", f"{grp}_{shift}_actual_hours")
    for grp in ("rn", "hca")
    for shift in ("day", "night")
)


@dataclass(frozen=True)
class Finding:
    """One impossible value: which ward, which file and the row/column a person can find."""

    ward_code: str | None
    extract: str
    rule: str
    problem: RowProblem


def _month(values: pd.Series) -> pd.Series:
    return values.dt.to_period("M").dt.to_timestamp()


def _label(value: object) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _findings(
    name: str, rule: str, frame: pd.DataFrame, mask: pd.Series, column: str, message: str
) -> list[Finding]:
    """One finding per masked row; ``message`` may use the row's columns via ``{column}``."""
    hits = frame.loc[mask.to_numpy(dtype=bool, na_value=False)]
    out = []
    for record in hits.to_dict("records"):
        text = message.format(**{k: _label(v) for k, v in record.items() if isinstance(k, str)})
        ward = record.get("ward_code")
        out.append(
            Finding(
                str(ward) if ward is not None else None,
                name,
                rule,
                RowProblem(int(record["_row"]), column, text),
            )
        )
    return out


def _duplicates(name: str, frame: pd.DataFrame) -> list[Finding]:
    keys = [k for k in KEYS.get(name, ()) if k in frame.columns]
    if not keys:
        return []
    keyed = frame.assign(**{k: _month(frame[k]) for k in keys if k == "month"})
    dupes = keyed.duplicated(subset=keys, keep="first")
    if not dupes.any():
        return []
    first_row = keyed.groupby(keys, sort=False, observed=True)["_row"].transform("min")
    what = " ".join(f"{{{k}}}" for k in keys)
    flagged = keyed.assign(_first=first_row)
    return _findings(
        name,
        "duplicate",
        flagged,
        dupes,
        keys[-1],
        f"{what} appears twice (rows {{_first}} and {{_row}}); keep one row per "
        + " and ".join(keys),
    )


def _future(name: str, frame: pd.DataFrame, limit: pd.Timestamp) -> list[Finding]:
    column = DATE_COLUMNS.get(name)
    if column is None or column not in frame.columns:
        return []
    mask = _month(frame[column]) > limit
    return _findings(
        name,
        "future",
        frame,
        mask,
        column,
        f"{{{column}}} is after {limit.strftime('%B %Y')}: a date in the future cannot be in "
        "an extract (check the date format)",
    )


def _gaps(name: str, frame: pd.DataFrame) -> list[Finding]:
    if frame.empty:
        return []
    months = frame.assign(_m=_month(frame["month"]))
    out: list[Finding] = []
    for ward, group in months.groupby("ward_code", sort=True, observed=True):
        present = pd.DatetimeIndex(group["_m"].unique()).sort_values()
        expected = pd.date_range(present[0], present[-1], freq="MS")
        missing = expected.difference(present)
        if len(missing):
            shown = ", ".join(m.strftime("%Y-%m") for m in missing[:6])
            more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
            out.append(
                Finding(
                    str(ward),
                    name,
                    "gap",
                    RowProblem(
                        None,
                        "month",
                        f"ward {ward} has no row for {shown}{more} (between "
                        f"{present[0]:%Y-%m} and {present[-1]:%Y-%m}); a missing month "
                        "cannot be charted",
                    ),
                )
            )
    return out


def _out_of_range(name: str, frame: pd.DataFrame) -> list[Finding]:
    spec = EXTRACTS_BY_NAME.get(name)
    if spec is None:
        return []
    out: list[Finding] = []
    for col in spec.columns:
        if col.name not in frame.columns:
            continue
        if col.min_value is not None:
            out += _findings(
                name,
                "out_of_range",
                frame,
                frame[col.name] < col.min_value,
                col.name,
                f"{{{col.name}}} is below the minimum of {col.min_value:g}",
            )
        if col.max_value is not None:
            out += _findings(
                name,
                "out_of_range",
                frame,
                frame[col.name] > col.max_value,
                col.name,
                f"{{{col.name}}} is above the maximum of {col.max_value:g}",
            )
    return out


def find_impossible(
    tables: Mapping[str, pd.DataFrame], *, as_of: date, max_actual_to_planned: float
) -> list[Finding]:
    """Every impossible row in validated extract ``tables`` (as ``validate_frame`` returns)."""
    limit = pd.Timestamp(as_of).to_period("M").to_timestamp()
    found: list[Finding] = []
    for name, frame in tables.items():
        if "_row" not in frame.columns or frame.empty:
            continue
        found += _out_of_range(name, frame)
        found += _duplicates(name, frame)
        found += _future(name, frame, limit)
        if name in MONTHLY:
            found += _gaps(name, frame)
    fft = tables.get("fft")
    if fft is not None and not fft.empty:
        found += _findings(
            "fft",
            "part_exceeds_whole",
            fft,
            fft["positive"] > fft["responses"],
            "positive",
            "{positive} positive answers but only {responses} responses: positive cannot "
            "exceed responses",
        )
    staffing = tables.get("safe_staffing")
    if staffing is not None and not staffing.empty:
        for planned, actual in HOUR_PAIRS:
            beyond = staffing[actual] > staffing[planned] * max_actual_to_planned
            found += _findings(
                "safe_staffing",
                "actual_beyond_planned",
                staffing,
                beyond & (staffing[planned] > 0),
                actual,
                f"{{{actual}}} actual hours against {{{planned}}} planned is more than "
                f"{max_actual_to_planned:g}x the plan: check the hours",
            )
            if planned.startswith("rn_"):
                found += _findings(
                    "safe_staffing",
                    "zero_planned",
                    staffing,
                    staffing[planned] <= 0,
                    planned,
                    "no planned registered nurse hours (actual {"
                    + actual
                    + "}): the fill rate cannot be computed; send the planned hours",
                )
    return found


def by_ward(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.ward_code is not None:
            grouped[f.ward_code].append(f)
    return dict(grouped)


def as_errors(
    findings: Iterable[Finding], sources: Mapping[str, str], limit: int = MAX_PER_RULE
) -> list[InputFileError]:
    """One :class:`InputFileError` per file, each rule capped at ``limit`` rows plus a count."""
    per_file: dict[str, dict[str, list[RowProblem]]] = defaultdict(lambda: defaultdict(list))
    for f in findings:
        per_file[f.extract][f.rule].append(f.problem)
    errors = []
    for name, rules in per_file.items():
        problems: list[RowProblem] = []
        for rule, items in rules.items():
            items = sorted(items, key=lambda p: (p.row is None, p.row or 0))
            problems += items[:limit]
            if len(items) > limit:
                problems.append(
                    RowProblem(None, None, f"... and {len(items) - limit} more {rule} rows")
                )
        errors.append(InputFileError(sources.get(name, name), problems))
    return errors


def summary_lines(
    findings: list[Finding], sources: Mapping[str, str], limit: int, per_rule: int = 5
) -> list[str]:
    """Short lines for a message or a log: ``file, row N, column 'c': problem``, capped.

    At most ``per_rule`` rows of each file and rule (so every kind of problem shows), then one
    line counting the rest.
    """
    seen: dict[tuple[str, str], int] = defaultdict(int)
    lines: list[str] = []
    for f in findings:
        seen[(f.extract, f.rule)] += 1
        if seen[(f.extract, f.rule)] <= per_rule and len(lines) < limit:
            lines.append(f"{_short(sources.get(f.extract, f.extract))}, {f.problem}")
    if len(findings) > len(lines):
        lines.append(f"... and {len(findings) - len(lines)} more (run `wardprog check-extracts`)")
    return lines


def _short(source: str) -> str:
    return source.rsplit("/", 1)[-1]


def fingerprint(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
