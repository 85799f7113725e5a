"""How long the diagnostic pull takes: reading the extracts vs computing metrics + SPC.

Run: ``.venv/bin/python benchmarks/diagnostics.py [--wards 60 1200] [--format csv|parquet]``.
For each trust size it generates three years of synthetic extracts, then prints the time to read
and validate them, and the time to compute every ward's monthly metrics and every metric's SPC
chart in one vectorised pass (goal: compute <= 1.5 x read).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from wardprog.rules.metrics import ward_month_metrics
from wardprog.services.diagnostics import charts_for
from wardprog.sources.extracts import load_folder
from wardprog.sources.synthetic import generate_extracts

START, END = date(2023, 1, 1), date(2025, 12, 31)


def run(n_wards: int, fmt: str) -> dict[str, float]:
    wards = [(f"S{i % 3 + 1}-W{i:04d}", f"S{i % 3 + 1}", 18 + i % 17) for i in range(n_wards)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        generate_extracts(wards, folder, START, END, seed=1, fmt=fmt)
        gen = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6

        t0 = time.perf_counter()
        extracts = load_folder(folder, use_cache=False)
        read = time.perf_counter() - t0

        t0 = time.perf_counter()
        metrics = ward_month_metrics(extracts.tables, START, END)
        t_metrics = time.perf_counter() - t0
        t0 = time.perf_counter()
        charts = charts_for(metrics)
        t_spc = time.perf_counter() - t0
        rows = sum(len(f) for f in extracts.tables.values())
    compute = t_metrics + t_spc
    print(
        f"{n_wards:>5} wards x 3 years ({fmt}, {rows:,} rows, {size_mb:,.1f} MB): "
        f"generate {gen:6.2f}s | read+validate {read:6.2f}s | "
        f"metrics {t_metrics:5.2f}s + SPC {t_spc:5.2f}s = compute {compute:6.2f}s "
        f"({len(charts):,} chart points) | compute/read = {compute / read:4.2f} "
        f"({'OK' if compute <= 1.5 * read else 'over'} vs goal 1.5)"
    )
    return {"read": read, "compute": compute}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wards", type=int, nargs="+", default=[60, 1200])
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv")
    args = parser.parse_args()
    for n in args.wards:
        run(n, args.format)


if __name__ == "__main__":
    main()
