"""Under CI=true an unreachable PostgreSQL fails the run; elsewhere it skips that half."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:9/test"  # discard port: nothing listens


def _run(ci: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CI": ci, "WARDPROG_TEST_POSTGRES_URL": UNREACHABLE}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_smoke_fixtures.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("ci", ["true"])
def test_ci_fails_without_postgres(ci):
    result = _run(ci)
    assert result.returncode != 0
    assert "PostgreSQL is required in CI" in result.stdout


def test_outside_ci_postgres_half_skips():
    result = _run("")
    assert result.returncode == 0, result.stdout
    assert "1 passed, 1 skipped" in result.stdout
