"""`wardprog --help` and `wardprog spc --help` start without the heavy libraries.

The start time itself is measured by `benchmarks/cli_start.py` (a figure, not a timed test);
this keeps the cause from coming back: a command module that imports SQLModel, pandas or Prefect
at its top makes every command pay for it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "sqlmodel", "pandas", "prefect", "pydantic_settings", "statsmodels")

PROBE = """
import json, sys
from typer.testing import CliRunner
from wardprog.cli import app
result = CliRunner().invoke(app, sys.argv[1:])
assert result.exit_code == 0, result.output
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.stdin.read())))
print(json.dumps(heavy))
"""


@pytest.mark.parametrize("args", [["--help"], ["spc", "--help"], ["db", "--help"]])
def test_help_imports_none_of_the_heavy_libraries(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        input=json.dumps(HEAVY),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [], f"wardprog {' '.join(args)} imported them"
