"""Load the diagnostic extracts from a folder (CSV/Parquet/Excel) or a SQL warehouse.

Both adapters return the same validated :class:`Extracts`. A folder load is cached in-process,
keyed by the folder and every file's mtime and size: the diagnostic stage runs once per ward, and
a wave of 15 (or a replay of 60) wards must not re-read and re-validate the same extracts each
time, while a corrected file dropped into the folder is picked up on the next call.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wardprog.errors import InputFileError, RowProblem
from wardprog.sources.plausibility import Finding, by_ward, find_impossible
from wardprog.sources.schema import EXTRACTS, ExtractSpec
from wardprog.sources.tabular import decode_text, sniff_delimiter
from wardprog.sources.validate import raise_if_problems, validate_frame

SUFFIXES = (".csv", ".parquet", ".xlsx")
# ``DataFrame.attrs`` key: how many data rows a file held before only some wards' were kept.
DATA_ROWS = "wardprog_data_rows"
# Guards the folder cache and each Extracts memo (Prefect may run wards on task threads).
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Extracts:
    """Validated extract tables by name, and where each came from (for error messages)."""

    tables: dict[str, pd.DataFrame]
    sources: dict[str, str] = field(default_factory=dict)
    # Per-instance memo (ward index, register checks): a wave asks for 15-60 wards in turn.
    _memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def ward_codes(self) -> set[str]:
        codes: set[str] = set()
        for frame in self.tables.values():
            codes.update(frame["ward_code"].dropna().unique().tolist())
        return codes

    def distinct(self, table: str, column: str) -> list[Any]:
        """The distinct values of ``table``'s ``column``, memoised: every ward of a wave asks
        (the staff survey's years), and scanning a 3,000-ward wave's rows for each of its wards
        made a national rollout's diagnostic stage grow with the square of the wave."""
        key = ("distinct", table, column)
        with _LOCK:
            found = self._memo.get(key)
        if found is None:
            found = self.tables[table][column].dropna().unique().tolist()
            with _LOCK:
                self._memo[key] = found
        values: list[Any] = found
        return values

    def outside(self, known: Iterable[str]) -> tuple[int, list[str]]:
        """Rows (and their ward codes) for wards outside ``known``: skipped, never an error.

        A trust-wide extract holds every ward; only the programme's wards are read.
        """
        known_set = frozenset(known)
        key = ("outside", known_set)
        if key not in self._memo:
            rows, codes = 0, set()
            for frame in self.tables.values():
                unknown = ~frame["ward_code"].isin(known_set)
                rows += int(unknown.sum())
                codes.update(frame.loc[unknown, "ward_code"].dropna().unique().tolist())
            self._memo[key] = (rows, sorted(codes))
        result: tuple[int, list[str]] = self._memo[key]
        return result

    def outside_register(
        self, version: Hashable, known: Callable[[], Iterable[str]]
    ) -> tuple[int, list[str]]:
        """:meth:`outside` for a register identified by ``version``; ``known`` is read only when
        that version has not been seen (a wave asks once per ward; the register rarely changes).
        """
        key = ("outside_register", version)
        with _LOCK:
            found = self._memo.get(key)
        if found is None:
            found = self.outside(known())
            with _LOCK:
                self._memo[key] = found
        result: tuple[int, list[str]] = found
        return result

    def impossible(self, *, as_of: date, max_actual_to_planned: float) -> list[Finding]:
        """Every impossible row (duplicates, parts above wholes, future months...), memoised."""
        key = ("impossible", as_of.replace(day=1), max_actual_to_planned)
        with _LOCK:
            if key not in self._memo:
                self._memo[key] = find_impossible(
                    self.tables, as_of=as_of, max_actual_to_planned=max_actual_to_planned
                )
            found: list[Finding] = self._memo[key]
        return found

    def impossible_for(
        self, ward_code: str, *, as_of: date, max_actual_to_planned: float
    ) -> list[Finding]:
        key = ("impossible_by_ward", as_of.replace(day=1), max_actual_to_planned)
        with _LOCK:
            grouped = self._memo.get(key)
        if grouped is None:
            grouped = by_ward(
                self.impossible(as_of=as_of, max_actual_to_planned=max_actual_to_planned)
            )
            with _LOCK:
                self._memo[key] = grouped
        return list(grouped.get(ward_code, []))

    def for_wards(self, codes: Iterable[str]) -> Extracts:
        """The rows for these wards only (grouped once, then looked up per ward)."""
        with _LOCK:
            index = self._memo.get("by_ward")
            if index is None:
                index = {
                    name: {
                        str(code): rows
                        for code, rows in frame.groupby("ward_code", sort=False, observed=True)
                    }
                    for name, frame in self.tables.items()
                }
                self._memo["by_ward"] = index
        wanted = list(dict.fromkeys(codes))
        tables = {}
        for name, frame in self.tables.items():
            parts = [index[name][c] for c in wanted if c in index[name]]
            tables[name] = pd.concat(parts) if parts else frame.iloc[0:0]
        return Extracts(tables=tables, sources=self.sources)


def _find(folder: Path, spec: ExtractSpec) -> Path | None:
    for suffix in SUFFIXES:
        candidate = folder / f"{spec.name}{suffix}"
        if candidate.exists():
            return candidate
    return None


def read_table(path: Path, wards: frozenset[str] | None = None) -> pd.DataFrame:
    """Read one extract file as it is (text stays text, so validation can name bad cells).

    With ``wards``, only the rows for those ward codes are kept, filtered while reading, each
    keeping the row number of the file (``_row``) so a problem still names the row a person
    finds; rows with no ward code are kept too, so validation still reports them.
    """
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return _read_csv(path, wards)
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
            if wards is None:
                return frame
            # Parquet has no blank rows: row n of the table is data row n (header row 1).
            frame["_row"] = np.arange(len(frame)) + 2
            return _of_wards(frame, wards, data_rows=len(frame))
        if suffix == ".xlsx":
            frame = _numbered(pd.read_excel(path, dtype=object))
            return frame if wards is None else _of_wards(frame, wards, data_rows=len(frame))
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (ValueError, OSError) as exc:
        raise InputFileError(path, [RowProblem(None, None, f"cannot be read: {exc}")]) from exc
    raise InputFileError(path, [RowProblem(None, None, "unsupported file type")])


# Rows parsed at a time when only some wards' rows are kept: a national extract need never be
# held whole as text cells, only one chunk and the kept rows.
CSV_CHUNK_ROWS = 200_000


def _read_csv(path: Path, wards: frozenset[str] | None = None) -> pd.DataFrame:
    """A CSV as Excel or a warehouse writes it (any of UTF-8/BOM/Windows-1252, ``,`` or ``;``).

    Blank lines are kept while reading so each row keeps the number a spreadsheet shows
    (``_row``), then dropped. With ``wards``, the file is read in chunks and each chunk keeps
    only those wards' rows (and rows with no ward code, for validation to report).
    """
    text = decode_text(path, path.read_bytes())
    options: dict[str, Any] = {
        "sep": sniff_delimiter(text),
        "dtype": str,
        "keep_default_na": False,
        "na_values": [""],
        "skip_blank_lines": False,
    }
    if wards is None:
        return _numbered(pd.read_csv(io.StringIO(text), **options))
    parts: list[pd.DataFrame] = []
    offset = data_rows = 0
    with pd.read_csv(io.StringIO(text), chunksize=CSV_CHUNK_ROWS, **options) as chunks:
        for chunk in chunks:
            numbered = _numbered(chunk, first=offset)
            offset += len(chunk)
            data_rows += len(numbered)
            parts.append(_of_wards(numbered, wards))
    if not parts:  # a header and nothing else
        return _numbered(pd.read_csv(io.StringIO(text), **options))
    frame = pd.concat(parts, ignore_index=True)
    frame.attrs[DATA_ROWS] = data_rows
    return frame


def _numbered(frame: pd.DataFrame, first: int = 0) -> pd.DataFrame:
    """Number each row as the spreadsheet does (header row 1), then drop blank rows.

    ``first`` is how many data rows came before ``frame`` (when a file is read in chunks).
    """
    frame.columns = [str(c).strip() for c in frame.columns]
    frame["_row"] = np.arange(len(frame)) + 2 + first
    # Empty cells are NaN here (CSV reads "" as NaN; Excel has no value).
    blank = frame.drop(columns="_row").isna().all(axis=1)
    return frame.loc[~blank].reset_index(drop=True)


def _of_wards(
    frame: pd.DataFrame, wards: frozenset[str], data_rows: int | None = None
) -> pd.DataFrame:
    """The rows of ``frame`` for ``wards``, plus rows with a blank ward code; ``_row`` kept.

    Without a ward code column nothing is filtered: validation reports the missing column.
    ``data_rows`` (the file's rows before filtering) is noted on the result, so a file with
    rows, none of them these wards', is told apart from a file with no data rows at all.
    """
    column = next((c for c in frame.columns if str(c).strip().lower() == "ward_code"), None)
    if column is not None:
        codes = frame[column].astype("string").str.strip()
        keep = codes.isin(wards).fillna(False) | codes.isna() | (codes == "").fillna(False)
        frame = frame.loc[keep.to_numpy(dtype=bool)].reset_index(drop=True)
    if data_rows is not None:
        frame.attrs[DATA_ROWS] = data_rows
    return frame


def _fingerprint(folder: Path) -> tuple[tuple[str, int, int], ...]:
    prints = []
    for spec in EXTRACTS:
        path = _find(folder, spec)
        if path is not None:
            st = path.stat()
            prints.append((path.name, st.st_mtime_ns, st.st_size))
    return tuple(prints)


_CacheKey = tuple[str, tuple[tuple[str, int, int], ...], frozenset[str] | None]
_CACHE: OrderedDict[_CacheKey, Extracts] = OrderedDict()
# A few folders or ward sets at once: the whole folder (commands, re-checks) and the waves
# whose diagnostic stages run in the same tick.
_CACHE_SIZE = 6


# One lock per key being read: the day's re-checks (or a wave's stages) run on four threads
# and ask for the same ward set at once; the first reads it, the others wait for its result
# instead of each parsing the same files.
_LOADING: dict[_CacheKey, threading.Lock] = {}


def clear_cache() -> None:
    with _LOCK:
        _CACHE.clear()


def load_folder(
    folder: Path, *, use_cache: bool = True, wards: Iterable[str] | None = None
) -> Extracts:
    """Every extract in ``folder``, validated; raises :class:`InputFileError` on any fault.

    With ``wards``, only those wards' rows are read and validated (filtered while reading, each
    row keeping its row number in the file), so a wave's diagnostic stage holds one wave's
    rows, not a whole nation's; other wards' rows are neither kept nor checked. The cache is
    keyed by the ward set too, so a wave's extracts are read once per folder version.
    """
    folder = Path(folder)
    wanted = None if wards is None else frozenset(str(w).strip() for w in wards)
    if not folder.is_dir():
        raise InputFileError(
            folder,
            [
                RowProblem(
                    None,
                    None,
                    "the extracts folder does not exist; put the extracts there or run "
                    "`wardprog generate-extracts` for synthetic data",
                )
            ],
        )
    key: _CacheKey = (str(folder.resolve()), _fingerprint(folder), wanted)
    if not use_cache:
        return _load(folder, wanted)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        loading = _LOADING.setdefault(key, threading.Lock())
    with loading:
        with _LOCK:
            if key in _CACHE:  # read by the thread this one waited for
                _CACHE.move_to_end(key)
                return _CACHE[key]
        try:
            extracts = _load(folder, wanted)
            with _LOCK:
                _CACHE[key] = extracts
                while len(_CACHE) > _CACHE_SIZE:
                    _CACHE.popitem(last=False)
        finally:
            with _LOCK:
                if _LOADING.get(key) is loading:
                    del _LOADING[key]
    return extracts


def _load(folder: Path, wanted: frozenset[str] | None) -> Extracts:
    """:func:`load_folder`'s read and validation, uncached."""
    tables: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    errors: list[InputFileError] = []
    for spec in EXTRACTS:
        path = _find(folder, spec)
        if path is None:
            names = " or ".join(f"{spec.name}{s}" for s in SUFFIXES)
            errors.append(
                InputFileError(
                    folder / f"{spec.name}.csv",
                    [
                        RowProblem(
                            None, None, f"missing extract: expected {names} ({spec.description})"
                        )
                    ],
                )
            )
            continue
        sources[spec.name] = str(path)
        try:
            raw = read_table(path, wanted)
            tables[spec.name] = validate_frame(
                spec,
                raw,
                path,
                check_ranges=False,
                # Rows in the file, none of them these wards': an empty table, not an error.
                allow_empty=bool(raw.attrs.get(DATA_ROWS)),
            )
        except InputFileError as exc:
            errors.append(exc)
    raise_if_problems(errors)
    return Extracts(tables=tables, sources=sources)


def load_warehouse(url: str, *, schema: str | None = None) -> Extracts:
    """The same extracts from tables in a SQL warehouse (one table per extract name)."""
    # Imported here: reading files (`wardprog spc FILE`) should not load SQLAlchemy.
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    tables: dict[str, pd.DataFrame] = {}
    sources: dict[str, str] = {}
    errors: list[InputFileError] = []
    safe_url = engine.url.render_as_string(hide_password=True)
    try:
        inspector = sa.inspect(engine)
        present = set(inspector.get_table_names(schema=schema))
        with engine.connect() as conn:
            for spec in EXTRACTS:
                qualified = f"{schema}.{spec.name}" if schema else spec.name
                label = f"{safe_url} table {qualified}"
                sources[spec.name] = label
                if spec.name not in present:
                    errors.append(
                        InputFileError(label, [RowProblem(None, None, "table does not exist")])
                    )
                    continue
                raw = pd.read_sql_table(spec.name, conn, schema=schema)
                try:
                    tables[spec.name] = validate_frame(
                        spec, raw, label, first_row=1, check_ranges=False
                    )
                except InputFileError as exc:
                    errors.append(exc)
    finally:
        engine.dispose()
    raise_if_problems(errors)
    return Extracts(tables=tables, sources=sources)
