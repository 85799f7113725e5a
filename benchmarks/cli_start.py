"""How fast the `wardprog` command starts: median wall time of a few everyday commands.

Run: ``.venv/bin/python benchmarks/cli_start.py [--runs 5] [--database-url URL]``.
Each command is run through the real console script in a fresh process (as a person runs it),
``--runs`` times, and the median is printed against the goal of 0.3 s. ``wardprog status`` reads
a scratch database (SQLite in a temporary folder unless ``--database-url`` names one), migrated
and holding the demo trust's 60-ward register, so it does its real queries.
For where the time goes: ``.venv/bin/python -X importtime -m wardprog.cli status 2> imports.txt``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_S = 0.3
ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).with_name("wardprog")
REGISTER = ROOT / "wardprog" / "demo_data" / "wards.csv"


def _series(folder: Path) -> Path:
    """Two years of a monthly measure: what `wardprog spc` charts for a ward."""
    path = folder / "falls.csv"
    rows = ["month,falls_per_1000_obd"]
    for i in range(24):
        rows.append(f"{2024 + i // 12}-{i % 12 + 1:02d}-01,{5 + (i * 7) % 5 * 0.4:.2f}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _run(args: list[str], env: dict[str, str], cwd: Path, program: str = str(SCRIPT)) -> float:
    began = time.perf_counter()
    done = subprocess.run(
        [program, *args], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    took = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"wardprog {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", help="database for `status` (default: scratch SQLite)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {
            **os.environ,
            "WARDPROG_VAR_DIR": str(folder / "var"),
            "WARDPROG_DATABASE_URL": args.database_url or f"sqlite:///{folder / 'wardprog.db'}",
            "PREFECT_HOME": str(folder / "prefect"),
        }
        _run(["db", "upgrade"], env, folder)
        _run(["import-wards", str(REGISTER)], env, folder)
        series = _series(folder)
        commands = {
            "wardprog --help": ["--help"],
            "wardprog spc --help": ["spc", "--help"],
            "wardprog spc FILE": [
                "spc",
                str(series),
                "--date-column",
                "month",
                "--value-column",
                "falls_per_1000_obd",
                "--json",
            ],
            "wardprog status": ["status"],
        }
        # The floor under any Typer command on this machine now: read the others against it when
        # the machine is shared (load inflates every figure alike).
        floors = {
            "python (no imports)": ["-c", "pass"],
            "python -c 'import typer'": ["-c", "import typer"],
        }
        print(f"median of {args.runs} runs (goal <= {GOAL_S:.1f} s; other load inflates these)")
        for name, command in {**floors, **commands}.items():
            program = sys.executable if name in floors else str(SCRIPT)
            _run(command, env, folder, program)  # warm the file cache, as a second use does
            times = [_run(command, env, folder, program) for _ in range(args.runs)]
            median = statistics.median(times)
            verdict = "ok" if median <= GOAL_S else f"{median / GOAL_S:.1f}x goal"
            print(f"  {name:<26} {median:6.3f} s  (min {min(times):.3f})  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
