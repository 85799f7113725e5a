"""The `wardprog spc` contract, run through typer's CliRunner on the real app."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from sqlmodel import Session, col, delete
from typer.testing import CliRunner

from tests.utils.factories import make_site, make_ward
from wardprog.cli import app as wardprog_app
from wardprog.config import Settings
from wardprog.models import Ward

KEYS = {
    "date",
    "value",
    "mean",
    "lpl",
    "upl",
    "special_cause",
    "special_cause_type",
    "point_type",
    "short_segment",
    "variation_icon",
    "assurance_icon",
}


@pytest.fixture
def app() -> typer.Typer:
    """The real `wardprog` app, as the console script runs it."""
    return wardprog_app


@pytest.fixture
def series_csv(tmp_path: Path) -> Path:
    values = [
        10,
        12,
        11,
        9,
        10,
        11,
        12,
        10,
        9,
        11,
        10,
        12,
        14,
        15,
        16,
        17,
        18,
        19,
        20,
        13,
        12,
        11,
        30,
        10,
    ]
    path = tmp_path / "falls.csv"
    pd.DataFrame(
        {
            "Month": pd.date_range("2023-01-01", periods=24, freq="MS").strftime("%Y-%m-%d"),
            "Falls": values,
        }
    ).to_csv(path, index=False)
    return path


def test_spc_json_contract(app: typer.Typer, series_csv: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "spc",
            str(series_csv),
            "--date-column",
            "Month",
            "--value-column",
            "Falls",
            "--improvement",
            "decrease",
            "--target",
            "12",
            "--rebase",
            "2024-01-01",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 24
    assert all(set(p) == KEYS for p in lines)
    first, last = lines[0], lines[-1]
    assert first["date"] == "2023-01-01" and first["value"] == 10
    assert first["special_cause"] is False and first["point_type"] == "common_cause"
    assert first["assurance_icon"] is None  # earlier segment: no assurance
    assert last["point_type"] == "special_cause_improvement"
    assert last["variation_icon"] == "improvement_low"
    assert last["assurance_icon"] == "inconsistent"
    assert last["mean"] == pytest.approx(195 / 12)
    assert lines[12]["point_type"] == "special_cause_concern"  # a rising trend in falls


def test_spc_table_output(app: typer.Typer, series_csv: Path) -> None:
    result = CliRunner().invoke(
        app, ["spc", str(series_csv), "--date-column", "Month", "--value-column", "Falls"]
    )
    assert result.exit_code == 0, result.output
    assert "variation:" in result.stdout


def test_spc_bad_input_names_row_and_column(app: typer.Typer, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("Month,Falls\n2024-01-01,3\n2024-02-01,three\n2024-03-01,4\n")
    result = CliRunner().invoke(
        app, ["spc", str(path), "--date-column", "Month", "--value-column", "Falls", "--json"]
    )
    assert result.exit_code == 2
    assert "row 3" in result.stderr and "'Falls'" in result.stderr and "'three'" in result.stderr


def test_spc_missing_column(app: typer.Typer, series_csv: Path) -> None:
    result = CliRunner().invoke(
        app, ["spc", str(series_csv), "--date-column", "Month", "--value-column", "Harms", "--json"]
    )
    assert result.exit_code == 2
    assert "missing column" in result.stderr and "'Harms'" in result.stderr


def test_generate_then_check_extracts(
    app: typer.Typer, session: Session, settings: Settings
) -> None:
    site = make_site(session, code="CL")
    for code in ("CL-W01", "CL-W02"):
        make_ward(session, site, code=code, beds=18)
    session.commit()
    runner = CliRunner()
    result = runner.invoke(
        app, ["generate-extracts", "--start", "2025-01-01", "--end", "2025-12-31", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    assert (settings.extracts_dir / "census.csv").exists()
    assert "safe_staffing.csv" in result.stdout

    ok = runner.invoke(app, ["check-extracts"])
    assert ok.exit_code == 0, ok.output
    assert "census: 730 rows OK" in ok.stdout

    # A ward outside the register (a trust-wide extract) is skipped with one line, not a failure.
    session.exec(delete(Ward).where(col(Ward.code) == "CL-W02"))
    session.commit()
    skipped = runner.invoke(app, ["check-extracts"])
    assert skipped.exit_code == 0, skipped.output
    assert "for 1 ward(s) not in the register (CL-W02)" in skipped.stdout
