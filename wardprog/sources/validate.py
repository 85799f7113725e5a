"""Validate raw extract tables: every problem names the file, the row and the column.

Checks are vectorised pandas operations (a census extract for a large trust is over a million
rows); the problems found are collected, not raised one at a time, so an analyst can fix a file
in one pass. Row numbers are what a spreadsheet user sees: the header is row 1, so the first data
row is row 2 (for a warehouse table, the first row of the query result is row 1).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from wardprog.errors import InputFileError, RowProblem
from wardprog.sources.schema import Column, ColumnType, ExtractSpec

# Each column reports at most this many bad rows; the rest are counted in one summary line.
MAX_PROBLEMS_PER_COLUMN = 10


@dataclass
class ExtractsError(InputFileError):
    """One or more extracts are invalid; ``files`` holds each bad file's own error."""

    files: list[InputFileError] = field(default_factory=list)

    def __str__(self) -> str:
        if len(self.files) <= 1:
            return super().__str__()
        return "\n".join(str(f) for f in self.files)


def raise_if_problems(errors: Iterable[InputFileError]) -> None:
    errors = [e for e in errors if e.problems]
    if not errors:
        return
    first = errors[0]
    raise ExtractsError(path=first.path, problems=list(first.problems), files=errors)


def _blank(raw: pd.Series) -> pd.Series:
    if raw.dtype == object or pd.api.types.is_string_dtype(raw):
        return raw.isna() | (raw.astype("string").str.strip() == "")
    return raw.isna()


def _report(
    problems: list[RowProblem],
    mask: pd.Series,
    rows: np.ndarray,
    column: str,
    message: str,
    raw: pd.Series | None = None,
) -> None:
    bad = np.flatnonzero(mask.to_numpy(dtype=bool, na_value=False))
    for i in bad[:MAX_PROBLEMS_PER_COLUMN]:
        text = message
        if raw is not None:
            text = message.format(value=str(raw.iloc[i])[:60])
        problems.append(RowProblem(int(rows[i]), column, text))
    if len(bad) > MAX_PROBLEMS_PER_COLUMN:
        problems.append(
            RowProblem(
                None,
                column,
                f"... and {len(bad) - MAX_PROBLEMS_PER_COLUMN} more rows with the same problem",
            )
        )


def _parse(col: Column, raw: pd.Series) -> pd.Series:
    if col.type is ColumnType.text:
        return raw.astype("string").str.strip()
    if col.type in (ColumnType.number, ColumnType.integer):
        if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
            return raw.astype(float)
        return pd.to_numeric(raw.astype("string").str.strip(), errors="coerce").astype(float)
    # Dates: ISO 8601 text, or native dates from Excel/Parquet/SQL.
    if pd.api.types.is_datetime64_any_dtype(raw):
        return pd.to_datetime(raw).dt.tz_localize(None) if raw.dt.tz is not None else raw
    as_text = raw.astype("string").str.strip()
    return pd.to_datetime(as_text, errors="coerce", format="ISO8601")


def validate_frame(
    spec: ExtractSpec,
    raw: pd.DataFrame,
    source: Path | str,
    *,
    first_row: int = 2,
    check_ranges: bool = True,
    allow_empty: bool = False,
) -> pd.DataFrame:
    """Typed, cleaned copy of ``raw`` for ``spec``, or :class:`InputFileError` naming every fault.

    ``first_row`` is the row number a user sees for the first data row (2 under a header).
    With ``check_ranges`` False, values outside a column's minimum/maximum are kept: the
    diagnostic extracts leave them to ``plausibility.py``, which refuses only the wards they
    belong to instead of every ward in the trust. With ``allow_empty``, a header with no rows
    is an empty table (the caller kept only some wards' rows of a file that has data).
    """
    problems: list[RowProblem] = []
    raw = raw.rename(columns=lambda c: str(c).strip().lower())
    if raw.empty and not (allow_empty and len(raw.columns)):
        if len([c for c in raw.columns if c != "_row"]) == 0:
            msg = "the file is empty: expected a header row with " + ", ".join(spec.column_names)
        else:
            msg = "the file has a header but no data rows"
        raise InputFileError(source, [RowProblem(None, None, msg)])
    # Headers match case-insensitively ("Ward_Code" is fine); messages use the expected name.
    missing = [c for c in spec.column_names if c.lower() not in raw.columns]
    for name in missing:
        problems.append(
            RowProblem(
                1 if first_row == 2 else None,
                name,
                f"missing column (expected columns: {', '.join(spec.column_names)})",
            )
        )
    if problems:
        raise InputFileError(source, problems)

    # Readers that drop blank lines say which spreadsheet row each data row came from.
    if "_row" in raw.columns:
        rows = raw["_row"].to_numpy(dtype=int)
    else:
        rows = np.arange(len(raw)) + first_row
    out: dict[str, pd.Series] = {}
    for col in spec.columns:
        series = raw[col.name.lower()].reset_index(drop=True)
        blank = _blank(series)
        if col.required:
            _report(problems, blank, rows, col.name, "is empty; a value is required")
        parsed = _parse(col, series)
        unparsed = parsed.isna() & ~blank
        if col.type in (ColumnType.number, ColumnType.integer):
            _report(problems, unparsed, rows, col.name, "{value!r} is not a number", series)
            if col.type is ColumnType.integer:
                fractional = parsed.notna() & (parsed != np.floor(parsed))
                _report(
                    problems, fractional, rows, col.name, "{value!r} is not a whole number", series
                )
            if col.min_value is not None and check_ranges:
                _report(
                    problems,
                    parsed < col.min_value,
                    rows,
                    col.name,
                    f"{{value!r}} is below the minimum of {col.min_value:g}",
                    series,
                )
            if col.max_value is not None and check_ranges:
                _report(
                    problems,
                    parsed > col.max_value,
                    rows,
                    col.name,
                    f"{{value!r}} is above the maximum of {col.max_value:g}",
                    series,
                )
        elif col.type is ColumnType.date:
            _report(
                problems,
                unparsed,
                rows,
                col.name,
                "{value!r} is not a date (use YYYY-MM-DD)",
                series,
            )
        elif col.choices is not None:
            lowered = parsed.str.lower().str.replace(" ", "_", regex=False)
            bad_choice = ~blank & ~lowered.isin(col.choices)
            _report(
                problems,
                bad_choice,
                rows,
                col.name,
                f"{{value!r}} is not one of: {', '.join(col.choices)}",
                series,
            )
            parsed = lowered
        out[col.name] = parsed
    if problems:
        raise InputFileError(source, problems)
    frame = pd.DataFrame(out)
    frame["_row"] = rows
    return frame
