"""Wall time of the whole programme replay, and cost per ward, at 60 and 600 wards.

Runs the real thing: a fresh SQLite database, Prefect's local ephemeral API, generated extracts,
simulated ward staff. Usage: `.venv/bin/python benchmarks/rollout.py [--wards 60 600]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
from wardprog.prefect_env import tune_local_server  # noqa: E402

tune_local_server()  # as the wardprog command runs its local API
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def run(n_wards: int, workdir: Path) -> tuple[float, float, int]:
    per_site = n_wards // 3
    from replay import use_workdir  # this folder is on sys.path when a benchmark runs

    use_workdir(workdir, "bench.db")
    from wardprog import config

    config.get_settings.cache_clear()
    settings = config.get_settings()
    from wardprog.demo.runner import prepare_demo, run_demo, write_register
    from wardprog.rules.planner import wave_bounds

    waves = -(-per_site // settings.wards_per_site_per_wave)
    start = date(2026, 1, 2)
    end = wave_bounds(start, waves)[1]
    register = write_register(workdir / "wards.csv", per_site)
    t0 = time.perf_counter()
    prepare_demo(settings, start, end, register)
    t1 = time.perf_counter()
    run_demo(start, end)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, waves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wards", type=int, nargs="+", default=[60, 600])
    args = parser.parse_args()
    print(f"{'wards':>6} {'waves':>6} {'prepare s':>10} {'programme s':>12} {'per ward ms':>12}")
    for n in args.wards:
        with tempfile.TemporaryDirectory(prefix=f"wardprog-bench-{n}-") as tmp:
            prep, prog, waves = run(n, Path(tmp))
        print(f"{n:>6} {waves:>6} {prep:>10.1f} {prog:>12.1f} {1000 * prog / n:>12.0f}", flush=True)


if __name__ == "__main__":
    main()
