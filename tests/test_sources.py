"""Extract adapters and validation: every problem names the file, the row and the column."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from wardprog.errors import InputFileError
from wardprog.sources.extracts import clear_cache, load_folder, load_warehouse
from wardprog.sources.schema import EXTRACTS
from wardprog.sources.synthetic import generate_extracts

WARDS = [("SX-W01", "SX", 20), ("SX-W02", "SX", 30), ("SY-W01", "SY", 12)]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("src")
    generate_extracts(WARDS, folder, date(2024, 1, 1), date(2025, 12, 31), seed=3)
    return folder


@pytest.fixture
def folder(template: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "extracts"
    shutil.copytree(template, dest)
    return dest


def _problems(err: pytest.ExceptionInfo[InputFileError]) -> str:
    return str(err.value)


def test_generated_extracts_load_and_are_deterministic(template: Path, tmp_path: Path) -> None:
    extracts = load_folder(template, use_cache=False)
    assert set(extracts.tables) == {s.name for s in EXTRACTS}
    assert extracts.ward_codes() == {w[0] for w in WARDS}
    census = extracts["census"]
    assert len(census) == 3 * 731
    assert (census["patients_at_midnight"] <= 30).all()
    again = tmp_path / "again"
    generate_extracts(WARDS, again, date(2024, 1, 1), date(2025, 12, 31), seed=3)
    for spec in EXTRACTS:
        assert (again / f"{spec.name}.csv").read_bytes() == (
            template / f"{spec.name}.csv"
        ).read_bytes()


def test_missing_column_names_file_and_column(folder: Path) -> None:
    path = folder / "workforce.csv"
    pd.read_csv(path).drop(columns=["sickness_pct"]).to_csv(path, index=False)
    with pytest.raises(InputFileError) as err:
        load_folder(folder, use_cache=False)
    text = _problems(err)
    assert "workforce.csv" in text and "'sickness_pct'" in text and "missing column" in text


def test_text_in_numeric_column_names_row_and_column(folder: Path) -> None:
    path = folder / "safe_staffing.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.loc[9, "rn_day_actual_hours"] = "about 900"
    frame.to_csv(path, index=False)
    with pytest.raises(InputFileError) as err:
        load_folder(folder, use_cache=False)
    problem = err.value.problems[0]
    assert Path(err.value.path).name == "safe_staffing.csv"
    # Data row 10 sits under the header: spreadsheet row 11.
    assert (problem.row, problem.column) == (11, "rn_day_actual_hours")
    assert "'about 900' is not a number" in problem.message


def test_bad_date_negative_and_bad_choice(folder: Path) -> None:
    path = folder / "incidents.csv"
    frame = pd.read_csv(path, dtype=str)
    frame.loc[0, "date"] = "31/13/2024"
    frame.loc[1, "harm_level"] = "catastrophic"
    frame.to_csv(path, index=False)
    census = folder / "census.csv"
    cframe = pd.read_csv(census, dtype=str)
    cframe.loc[2, "patients_at_midnight"] = "lots"
    cframe.to_csv(census, index=False)
    with pytest.raises(InputFileError) as err:
        load_folder(folder, use_cache=False)
    text = _problems(err)
    assert "incidents.csv" in text and "census.csv" in text  # every bad file in one pass
    assert "row 2, column 'date': '31/13/2024' is not a date" in text
    assert "row 3, column 'harm_level': 'catastrophic' is not one of" in text
    assert "row 4, column 'patients_at_midnight': 'lots' is not a number" in text
    # Out-of-range values (a negative count) are judged per ward in plausibility.py, so only
    # that ward is refused: see test_extract_plausibility.py.


@pytest.mark.parametrize("content", ["", "ward_code,date,category\n"])
def test_empty_file(folder: Path, content: str) -> None:
    (folder / "complaints.csv").write_text(content)
    with pytest.raises(InputFileError) as err:
        load_folder(folder, use_cache=False)
    assert "complaints.csv" in _problems(err)
    assert "empty" in _problems(err) or "no data rows" in _problems(err)


def test_missing_extract_file(folder: Path) -> None:
    (folder / "fft.csv").unlink()
    with pytest.raises(InputFileError) as err:
        load_folder(folder, use_cache=False)
    assert "missing extract" in _problems(err) and "fft.csv" in _problems(err)


def test_rows_for_wards_outside_the_register_are_counted_not_failed(folder: Path) -> None:
    extracts = load_folder(folder, use_cache=False)
    rows, codes = extracts.outside({"SX-W01", "SX-W02"})
    assert codes == ["SY-W01"]
    assert rows == sum(int((f["ward_code"] == "SY-W01").sum()) for f in extracts.tables.values())


def test_loading_some_wards_reads_only_their_rows_with_file_row_numbers(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``wards=``: the same rows as filtering the whole load, filtered while reading."""
    import wardprog.sources.extracts as extracts_module

    # Small chunks, so rows numbered across chunk boundaries are checked too.
    monkeypatch.setattr(extracts_module, "CSV_CHUNK_ROWS", 97)
    whole = load_folder(folder, use_cache=False)
    some = load_folder(folder, use_cache=False, wards=["SX-W02"])
    assert some.ward_codes() == {"SX-W02"}
    for spec in EXTRACTS:
        expected = whole.for_wards(["SX-W02"])[spec.name].reset_index(drop=True)
        pd.testing.assert_frame_equal(some[spec.name].reset_index(drop=True), expected)
    # A bad cell in the ward's rows still names the file's own row and column.
    path = folder / "safe_staffing.csv"
    frame = pd.read_csv(path, dtype=str)
    row = int(frame.index[frame["ward_code"] == "SX-W02"][5])
    frame.loc[row, "rn_day_actual_hours"] = "about 900"
    frame.to_csv(path, index=False)
    with pytest.raises(InputFileError) as err:
        load_folder(folder, use_cache=False, wards=["SX-W02"])
    problem = err.value.problems[0]
    assert (problem.row, problem.column) == (row + 2, "rn_day_actual_hours")
    # Another ward's rows are not read: its bad cell does not refuse this ward.
    assert load_folder(folder, use_cache=False, wards=["SY-W01"]).ward_codes() == {"SY-W01"}
    # A ward with no rows anywhere gets empty tables, not "no data rows".
    empty = load_folder(folder, use_cache=False, wards=["ZZ-W99"])
    assert all(t.empty for t in empty.tables.values())
    assert list(empty["fft"].columns) == list(whole["fft"].columns)


def test_ward_subsets_are_cached_apart(folder: Path) -> None:
    clear_cache()
    first = load_folder(folder, wards=["SX-W01"])
    assert load_folder(folder, wards={"SX-W01"}) is first
    assert load_folder(folder, wards=["SX-W02"]) is not first
    assert load_folder(folder) is not first
    assert load_folder(folder).ward_codes() == {w[0] for w in WARDS}


def test_parquet_and_excel_are_read_too(template: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    for spec in EXTRACTS:
        frame = pd.read_csv(template / f"{spec.name}.csv", dtype=str)
        if spec.name == "workforce":
            frame.head(50).to_excel(folder / "workforce.xlsx", index=False)
        elif spec.name == "census":
            typed = frame.assign(
                date=pd.to_datetime(frame["date"]),
                patients_at_midnight=frame["patients_at_midnight"].astype(int),
            )
            typed.to_parquet(folder / "census.parquet", index=False)
        else:
            frame.to_csv(folder / f"{spec.name}.csv", index=False)
    extracts = load_folder(folder, use_cache=False)
    assert extracts.sources["workforce"].endswith("workforce.xlsx")
    assert len(extracts["workforce"]) == 50
    assert extracts["census"]["date"].dtype.kind == "M"
    # One ward's rows from Parquet and Excel too, with the rows a spreadsheet shows.
    one = load_folder(folder, use_cache=False, wards=["SX-W01"])
    for name in ("workforce", "census"):
        expected = extracts.for_wards(["SX-W01"])[name].reset_index(drop=True)
        pd.testing.assert_frame_equal(one[name].reset_index(drop=True), expected)


def test_warehouse_adapter_on_postgres(template: Path, postgres_url: str) -> None:
    """Same tables in a SQL warehouse (PostgreSQL), same validation; row numbers from 1."""
    engine = sa.create_engine(postgres_url)
    schema = "extracts_test"
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        for spec in EXTRACTS:
            frame = pd.read_csv(template / f"{spec.name}.csv")
            frame.to_sql(spec.name, engine, schema=schema, index=False)
        extracts = load_warehouse(postgres_url, schema=schema)
        from_folder = load_folder(template, use_cache=False)
        for spec in EXTRACTS:
            assert len(extracts[spec.name]) == len(from_folder[spec.name])
        assert "table extracts_test.census" in extracts.sources["census"]

        with engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {schema}.fft ALTER COLUMN responses TYPE text"))
            conn.execute(
                sa.text(
                    f"UPDATE {schema}.fft SET responses = 'n/a' WHERE ctid = "
                    f"(SELECT ctid FROM {schema}.fft LIMIT 1)"
                )
            )
        with pytest.raises(InputFileError) as err:
            load_warehouse(postgres_url, schema=schema)
        assert "table extracts_test.fft" in str(err.value)
        assert "column 'responses': 'n/a' is not a number" in str(err.value)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()
