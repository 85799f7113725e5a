"""Extracts checked for what cannot be true, before anything is computed: one test per rule.

Each test corrupts a clean synthetic extract the way real ones go wrong, then checks that the
problem is found with its file, row and column, that ``check-extracts`` lists it briefly, and
(on both databases) that the diagnostic stage refuses the ward's data with one message to the
team instead of building a pack from it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.utils.factories import make_context, make_site, make_ward
from wardprog.cli import app
from wardprog.config import Settings
from wardprog.errors import InputFileError
from wardprog.models import DiagnosticSnapshot, Notification
from wardprog.services.context import StageContext
from wardprog.services.diagnostics import run_diagnostic_stage
from wardprog.sources.extracts import load_folder
from wardprog.sources.plausibility import Finding, find_impossible
from wardprog.sources.synthetic import generate_extracts

AS_OF = date(2026, 1, 5)
WARDS = ("PX-W01", "PX-W02")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clean-extracts")
    generate_extracts([(w, "PX", 24) for w in WARDS], folder, date(2023, 1, 1), date(2025, 12, 31))
    return folder


@pytest.fixture
def folder(clean: Path, tmp_path: Path) -> Path:
    out = tmp_path / "extracts"
    out.mkdir()
    for f in clean.iterdir():
        (out / f.name).write_bytes(f.read_bytes())
    return out


def _edit(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)


def _save(folder: Path, name: str, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / f"{name}.csv", index=False)


def _find(folder: Path, as_of: date = AS_OF, factor: float = 3.0) -> list[Finding]:
    extracts = load_folder(folder, use_cache=False)
    return find_impossible(extracts.tables, as_of=as_of, max_actual_to_planned=factor)


def _first_row(frame: pd.DataFrame, ward: str = "PX-W01") -> int:
    return int(frame.index[frame["ward_code"] == ward][0])


def test_clean_synthetic_extracts_have_nothing_impossible(folder: Path) -> None:
    assert _find(folder) == []


def test_duplicate_ward_month_is_reported_with_both_rows(folder: Path) -> None:
    staffing = _edit(folder, "safe_staffing")
    i = _first_row(staffing)
    _save(folder, "safe_staffing", pd.concat([staffing, staffing.iloc[[i]]]))
    (found,) = _find(folder)
    assert (found.rule, found.ward_code, found.extract) == ("duplicate", "PX-W01", "safe_staffing")
    last = len(staffing) + 2  # header is row 1; the copy is the new last row
    assert (found.problem.row, found.problem.column) == (last, "month")
    assert f"rows {i + 2} and {last}" in found.problem.message


def test_fft_positive_above_responses(folder: Path) -> None:
    fft = _edit(folder, "fft")
    i = _first_row(fft)
    fft.loc[i, "positive"] = str(int(fft["responses"].loc[i]) * 3 + 1)
    _save(folder, "fft", fft)
    (found,) = _find(folder)
    assert found.rule == "part_exceeds_whole"
    assert (found.problem.row, found.problem.column) == (i + 2, "positive")


def test_actual_hours_far_beyond_planned_by_a_configurable_factor(folder: Path) -> None:
    staffing = _edit(folder, "safe_staffing")
    i = _first_row(staffing, "PX-W02")
    planned = float(staffing["hca_day_planned_hours"].loc[i])
    staffing.loc[i, "hca_day_actual_hours"] = str(planned * 2)
    _save(folder, "safe_staffing", staffing)
    assert _find(folder, factor=3.0) == []  # 200% happens (enhanced observation)
    (found,) = _find(folder, factor=1.5)
    assert found.rule == "actual_beyond_planned" and found.ward_code == "PX-W02"
    assert (found.problem.row, found.problem.column) == (i + 2, "hca_day_actual_hours")


def test_zero_planned_nurse_hours(folder: Path) -> None:
    staffing = _edit(folder, "safe_staffing")
    i = _first_row(staffing)
    staffing.loc[i, "rn_night_planned_hours"] = "0"
    _save(folder, "safe_staffing", staffing)
    (found,) = _find(folder)
    assert found.rule == "zero_planned"
    assert (found.problem.row, found.problem.column) == (i + 2, "rn_night_planned_hours")


def test_months_in_the_future(folder: Path) -> None:
    found = _find(folder, as_of=date(2025, 10, 15))
    assert {f.rule for f in found} == {"future"}
    months = {f.problem.message[:10] for f in found if f.extract == "safe_staffing"}
    assert months == {"2025-11-01", "2025-12-01"}


def test_missing_month_is_a_gap(folder: Path) -> None:
    workforce = _edit(folder, "workforce")
    ward = workforce[workforce["ward_code"] == "PX-W01"]
    _save(folder, "workforce", workforce.drop(index=ward.index[5]))
    (found,) = _find(folder)
    assert found.rule == "gap" and found.extract == "workforce"
    assert found.problem.column == "month" and "has no row for 2023-06" in found.problem.message


def test_percentage_outside_0_100_and_negative_counts(folder: Path) -> None:
    workforce = _edit(folder, "workforce")
    i = _first_row(workforce, "PX-W02")
    workforce.loc[i, "sickness_pct"] = "140"
    _save(folder, "workforce", workforce)
    census = _edit(folder, "census")
    census.loc[3, "patients_at_midnight"] = "-3"
    _save(folder, "census", census)
    found = sorted(_find(folder), key=lambda f: f.extract)
    assert [(f.extract, f.rule, f.problem.row, f.problem.column) for f in found] == [
        ("census", "out_of_range", 5, "patients_at_midnight"),
        ("workforce", "out_of_range", i + 2, "sickness_pct"),
    ]
    assert found[1].ward_code == "PX-W02"
    assert found[1].problem.message == "140 is above the maximum of 100"


def test_extract_csv_as_excel_writes_it_keeps_spreadsheet_rows(folder: Path) -> None:
    fft = (folder / "fft.csv").read_text().splitlines()
    fft.insert(3, "")  # a blank line after row 3
    bad = fft[5].split(",")
    bad[2] = "lots"
    fft[5] = ",".join(bad)
    text = "\r\n".join(line.replace(",", ";") for line in fft) + "\r\n\r\n"
    (folder / "fft.csv").write_bytes(text.encode("cp1252"))
    with pytest.raises(InputFileError) as err:
        load_folder(folder, use_cache=False)
    (problem,) = err.value.problems
    assert (problem.row, problem.column) == (6, "responses")


def test_check_extracts_lists_every_problem_briefly(
    folder: Path, session: Session, settings: Settings
) -> None:
    site = make_site(session, code="PX")
    for code in WARDS:
        make_ward(session, site, code=code)
    session.commit()
    census = _edit(folder, "census")
    # Every day of one ward sent twice (3 years: about 1,100 duplicate rows), plus a ward the
    # programme does not hold.
    doubled = pd.concat([census, census[census["ward_code"] == "PX-W01"]])
    other = census[census["ward_code"] == "PX-W02"].assign(ward_code="ZZ-W99")
    _save(folder, "census", pd.concat([doubled, other]))
    result = CliRunner().invoke(app, ["check-extracts", str(folder), "--as-of", "2026-01-05"])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) < 20 and max(len(line) for line in lines) < 300
    assert lines[0].startswith("error: ") and "census.csv" in lines[1]
    assert any("row " in line and "column 'date'" in line and "twice" in line for line in lines)
    assert any("more duplicate rows" in line for line in lines)
    assert "skipped 1,096 extract rows for 1 ward(s) not in the register (ZZ-W99)" in result.stdout


def _stage_ctx(session: Session, settings: Settings, folder: Path) -> StageContext:
    settings.extracts_dir.mkdir(parents=True, exist_ok=True)
    for f in folder.iterdir():
        (settings.extracts_dir / f.name).write_bytes(f.read_bytes())
    site = make_site(session, code="PX")
    make_ward(session, site, code="PX-W02")
    ward = make_ward(session, site, code="PX-W01")
    return make_context(session, settings, as_of=AS_OF, site=site, ward=ward)


def test_diagnostic_stage_refuses_impossible_data_once_and_waits(
    folder: Path, session: Session, settings: Settings
) -> None:
    # Every ward-month of one ward twice: the pack would show CHPPD doubled.
    staffing = _edit(folder, "safe_staffing")
    _save(
        folder, "safe_staffing", pd.concat([staffing, staffing[staffing["ward_code"] == "PX-W01"]])
    )
    ctx = _stage_ctx(session, settings, folder)
    for _ in range(2):
        outcome = run_diagnostic_stage(ctx)
        session.commit()
        assert not outcome.done
        assert "refused" in outcome.summary and "waiting for corrected extracts" in outcome.summary
    assert session.exec(select(DiagnosticSnapshot)).all() == []
    assert not (settings.output_dir / "packs" / "PX-W01.html").exists()
    (note,) = session.exec(select(Notification)).all()
    assert note.kind == "extract_refused" and note.tags == ["improvement-team"]
    assert "PX-W01" in note.subject
    assert len(note.body_text.splitlines()) < 40
    assert "safe_staffing.csv, row" in note.body_text and "twice" in note.body_text

    # Corrected extracts: the same ward's pack is built on the next run.
    _save(settings.extracts_dir, "safe_staffing", staffing)
    assert run_diagnostic_stage(ctx).done


def test_unreadable_extracts_are_one_message_for_all_wards(
    folder: Path, session: Session, settings: Settings
) -> None:
    (folder / "fft.csv").unlink()
    ctx = _stage_ctx(session, settings, folder)
    assert not run_diagnostic_stage(ctx).done
    other = make_context(session, settings, as_of=AS_OF, site=ctx.site, ward=make_ward(session))
    assert not run_diagnostic_stage(other).done
    session.commit()
    (note,) = session.exec(select(Notification)).all()
    assert note.kind == "extract_refused" and "cannot be read" in note.subject
    assert "missing extract" in note.body_text and "fft" in note.body_text


def test_extract_xlsx_with_a_blank_row_keeps_spreadsheet_rows(folder: Path) -> None:
    fft = _edit(folder, "fft")
    fft.loc[4, "responses"] = "lots"
    top, rest = fft.iloc[:2], fft.iloc[2:]
    blank = pd.DataFrame([{c: None for c in fft.columns}])
    (folder / "fft.csv").unlink()
    pd.concat([top, blank, rest]).to_excel(folder / "fft.xlsx", index=False)
    with pytest.raises(InputFileError) as err:
        load_folder(folder, use_cache=False)
    (problem,) = err.value.problems
    assert (problem.row, problem.column) == (7, "responses")  # data row 5, after a blank row
