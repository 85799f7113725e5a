"""`wardprog evaluate` as a user runs it: the file contract and the programme's own data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlmodel import Session
from typer.testing import CliRunner, Result

from tests.utils.evaluation_trust import AS_OF, FALLS, seed_trust, write_extracts
from wardprog.cli import app
from wardprog.config import Settings
from wardprog.rules.metrics import METRICS

KEYS = [
    "effect",
    "ci_low",
    "ci_high",
    "p_value",
    "wards",
    "observations",
    "exposed_observations",
    "method",
]
ARGS = ["--ward-column", "Ward", "--date-column", "Month", "--value-column", "Value"]
ARGS += ["--start-column", "Joined"]


def _panel(path: Path, wards: int = 16, effect: float = -3.0, seed: int = 3) -> Path:
    """A ward-month file: 24 months, four waves of joiners, four wards never joining."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2024-01-01", periods=24, freq="MS")
    rows = []
    for w in range(wards):
        joined = pd.Timestamp(2024, 4, 10) + pd.DateOffset(months=3 * (w % 4)) if w < 12 else None
        level = rng.normal(50, 5)
        for m in months:
            exposed = joined is not None and m > joined
            rows.append(
                {
                    "Ward": f"W{w:02d}",
                    "Month": m.strftime("%Y-%m-%d"),
                    "Value": level + 0.2 * m.month + (effect if exposed else 0) + rng.normal(0, 2),
                    "Joined": joined.strftime("%Y-%m-%d") if joined is not None else "",
                }
            )
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["evaluate", *args])


def test_file_json_contract_recovers_the_effect(tmp_path: Path) -> None:
    result = _run(str(_panel(tmp_path / "p.csv")), *ARGS, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out) == KEYS
    assert out["ci_low"] <= -3.0 <= out["ci_high"] and out["ci_high"] < 0
    assert out["p_value"] < 0.001
    assert (out["wards"], out["observations"]) == (16, 16 * 24)
    assert out["exposed_observations"] == sum(24 - 4 - 3 * k for k in range(4)) * 3
    assert "C(month)" in out["method"] and "(1 | ward)" in out["method"]


def test_file_lag_and_table(tmp_path: Path) -> None:
    path = _panel(tmp_path / "p.csv")
    lagged = json.loads(_run(str(path), *ARGS, "--lag", "2", "--json").stdout)
    plain = json.loads(_run(str(path), *ARGS, "--json").stdout)
    assert lagged["exposed_observations"] == plain["exposed_observations"] - 2 * 12
    table = _run(str(path), *ARGS)
    assert table.exit_code == 0 and "lower after wards join" in table.stdout


def test_blank_values_are_left_out(tmp_path: Path) -> None:
    path = _panel(tmp_path / "p.csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[[3, 40, 41], "Value"] = ""
    frame.to_csv(path, index=False)
    out = json.loads(_run(str(path), *ARGS, "--json").stdout)
    assert out["observations"] == 16 * 24 - 3


def test_file_cannot_be_estimated_exits_2(tmp_path: Path) -> None:
    path = _panel(tmp_path / "p.csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = frame.loc[frame["Ward"].isin(["W00", "W12", "W13"])]  # one joiner only
    frame.to_csv(path, index=False)
    result = _run(str(path), *ARGS, "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "cannot be estimated: too few wards have joined" in result.stderr


def test_file_errors_name_row_and_column(tmp_path: Path) -> None:
    path = _panel(tmp_path / "p.csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[5, "Value"] = "lots"
    frame = pd.concat([frame, frame.iloc[[0]]])
    frame.to_csv(path, index=False)
    result = _run(str(path), *ARGS, "--json")
    assert result.exit_code == 2
    assert "row 7, column 'Value': 'lots' is not a number" in result.stderr
    missing = _run(str(path), "--ward-column", "Ward", "--json")
    assert missing.exit_code == 2 and "--date-column" in missing.stderr
    absent = _run(str(tmp_path / "nope.csv"), *ARGS)
    assert absent.exit_code == 2 and "no such file" in absent.stderr


def test_programme_metric_from_the_database(settings: Settings, session: Session) -> None:
    seed_trust(session)
    write_extracts(Path(settings.extracts_dir))
    result = _run("--metric", "falls_per_1000_obd", "--as-of", AS_OF.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert list(out) == KEYS
    assert out["wards"] == 12 and out["observations"] == 12 * 24
    assert out["ci_high"] < 0 and "poisson" in out["method"]
    # The change per 1,000 bed days is the injected rate ratio at the unexposed rate (~6).
    assert out["ci_low"] < 6 * (FALLS - 1) < out["ci_high"]

    table = _run("--as-of", AS_OF.isoformat())
    assert table.exit_code == 0, table.output
    for m in METRICS:
        assert m.label[:20] in table.stdout

    early = _run("--metric", "sickness_pct", "--as-of", "2025-02-01", "--json")
    assert early.exit_code == 2 and "too few wards have joined" in early.stderr
    unknown = _run("--metric", "nonsense", "--json")
    assert unknown.exit_code == 2 and "unknown metric nonsense" in unknown.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_programme_json_lines_for_every_metric(settings: Settings, session: Session) -> None:
    seed_trust(session)
    write_extracts(Path(settings.extracts_dir))
    result = _run("--as-of", AS_OF.isoformat(), "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["metric"] for line in lines] == [m.key for m in METRICS]
    assert all(list(line)[1:] == KEYS for line in lines)
