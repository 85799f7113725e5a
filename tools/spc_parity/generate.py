"""Regenerate the SPC parity corpus: cases charted by NHSRplotthedots, recorded as expected figures.

    python tools/spc_parity/generate.py            # writes tests/fixtures/spc_parity/cases.json.gz

The cases (seeded, so the same every run) cover integer counts, 1-3 decimal place percentages and
rates (many points exactly on the mean), constant segments, ties, trends, rebases at dates in the
data, missing values, short segments, fixed limits and unscreened outliers, with every direction
of improvement and targets either side of the limits. ``ptd_parity.R`` (beside this file) charts
each case with NHSRplotthedots; this script stores each case's inputs and the package's answers.
R and NHSRplotthedots are needed only here: ``tests/test_spc_parity.py`` reads the stored file.
Set ``NHSRPLOTTHEDOTS_SRC`` for a package source tree rather than an installed package (see the
R script), and ``RSCRIPT`` for another ``Rscript``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE.parent.parent / "tests" / "fixtures" / "spc_parity" / "cases.json.gz"
START = date(2020, 1, 1)
MAX_POINTS = 60
# Rebase positions are drawn from a few, so the test can chart cases sharing options together.
REBASE_AT = (6, 10, 13, 18, 24, 30, 36)


def month(i: int) -> str:
    y, m = divmod(START.month - 1 + i, 12)
    return date(START.year + y, m + 1, 1).isoformat()


def _values(rng: np.random.Generator, kind: str, n: int) -> list[float]:
    if kind == "integer":
        lam = rng.choice([0.7, 3, 12, 60])
        v = rng.poisson(lam, n).astype(float)
    elif kind in ("dp1", "dp2", "dp3"):
        dp = int(kind[-1])
        centre = rng.choice([99.8, 97.3, 95.0, 88.4, 0.412, 12.5, 3.333])
        spread = abs(centre) * rng.choice([0.0005, 0.002, 0.01, 0.05])
        v = np.round(rng.normal(centre, spread, n), dp)
        if centre > 50:
            v = np.minimum(v, 100.0)  # a percentage capped at 100: many equal values
    elif kind == "constant":
        c = round(float(rng.choice([97.3, 99.8, 0.1, 5.0, 12.345, 66.7])), 3)
        v = np.full(n, c)
        if rng.random() < 0.5:  # a constant baseline, then a change
            k = int(rng.integers(1, n)) if n > 1 else 0
            v[k:] = np.round(c + rng.normal(0, 1, n - k), 1)
    elif kind == "ties":
        levels = np.round(rng.choice([0.1, 1.0, 2.5]) * np.arange(int(rng.integers(2, 5))), 2)
        v = rng.choice(levels + float(rng.choice([0, 97.3, 0.3])), n)
    elif kind == "trend":
        step = float(rng.choice([0.1, 1.0, 0.25]))
        v = np.round(50 + step * np.arange(n) * rng.choice([1, -1]) + rng.normal(0, 0.3, n), 1)
        if rng.random() < 0.5:
            v[rng.integers(0, n, size=max(1, n // 8))] = v[0]
    else:  # "shift": a process that moves, so runs and 2-of-3 fire
        v = rng.normal(0, 1, n)
        k = int(rng.integers(0, n))
        v[k:] += rng.choice([1.5, 2.5, 4])
        v = np.round(v * rng.choice([1, 10]) + 20, int(rng.integers(0, 4)))
    return [float(x) for x in v]


# Series where a float sum / n is an ulp off the exact decimal mean and changes the answer.
HAND_CASES: list[tuple[str, list[float | None], str, float | None]] = [
    ("hand", [97.3] * 12, "increase", 95.0),
    (
        "hand",
        [99.9, 99.9, 99.8, 99.9, 99.9, 99.8, 99.8, 99.7, 99.7, 99.8, 99.7, 99.7, 99.8, 99.8],
        "increase",
        None,
    ),
    ("hand", [99.8] * 24, "decrease", 99.0),
    ("hand", [*[0.1] * 10, 0.2, 0.1, 0.1, 0.1, 0.1], "increase", None),
]


def make_cases(count: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    kinds = ["integer", "dp1", "dp2", "dp3", "constant", "ties", "trend", "shift"]
    cases: list[dict[str, Any]] = [
        {
            "id": count + k,
            "kind": kind,
            "dates": [month(i) for i in range(len(values))],
            "values": values,
            "improvement": improvement,
            "target": target,
            "rebase": [],
            "fix_after": None,
            "screen_outliers": True,
        }
        for k, (kind, values, improvement, target) in enumerate(HAND_CASES)
    ]
    for i in range(count):
        kind = kinds[i % len(kinds)]
        n = int(rng.choice([1, 2, 5, 8, 12, 13, 14, 20, 24, 30, 36, 48, MAX_POINTS]))
        values: list[float | None] = list(_values(rng, kind, n))
        rebase: list[str] = []
        if rng.random() < 0.3:
            for k in sorted(rng.choice(REBASE_AT, size=int(rng.integers(1, 3)), replace=False)):
                if k < n:
                    rebase.append(month(int(k)))
        gaps = rng.random() < 0.2
        if gaps and n > 2:
            for k in rng.integers(0, n, size=int(rng.integers(1, 4))):
                values[int(k)] = None
        finite = [v for v in values if v is not None]
        target = None
        if finite and rng.random() < 0.5:
            lo, hi = min(finite), max(finite)
            target = round(float(rng.choice([lo - 1, (lo + hi) / 2, hi + 1, finite[0]])), 2)
        fix_after = None
        if n >= 14 and rng.random() < 0.15:
            fix_after = int(rng.choice([12, 13, 18]))
        cases.append(
            {
                "id": i,
                "kind": kind + ("+gaps" if gaps else ""),
                "dates": [month(k) for k in range(n)],
                "values": values,
                "improvement": str(rng.choice(["increase", "decrease", "neutral"])),
                "target": target,
                "rebase": rebase,
                "fix_after": fix_after,
                "screen_outliers": bool(rng.random() < 0.8),
            }
        )
    return cases


def _listify(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _num(v: Any) -> float | None:
    return None if v is None else float(v)


def record(case: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
    """One fixture entry: the case's inputs and the package's answers, as plain JSON."""
    out = {k: case[k] for k in ("id", "kind", "values", "improvement", "target")}
    out |= {k: case[k] for k in ("rebase", "fix_after", "screen_outliers")}
    if answer.get("error") is not None:
        out["r_error"] = answer["error"]
        return out
    seg = answer["segments"]
    out["expected"] = {
        "trial_limits_warning": answer["trial_limits_warning"],
        "rebase_group": _listify(answer["rebase_group"]),
        "mean": [_num(v) for v in _listify(answer["mean"])],
        "lpl": [_num(v) for v in _listify(answer["lpl"])],
        "upl": [_num(v) for v in _listify(answer["upl"])],
        "outside_limits": _listify(answer["outside_limits"]),
        "relative_to_mean": _listify(answer["relative_to_mean"]),
        "close_to_limits": _listify(answer["close_to_limits"]),
        "special_cause_type": _listify(answer["special_cause_type"]),
        "point_type": _listify(answer["point_type"]),
        "short_group_warning": _listify(answer["short_group_warning"]),
        "segments": {k: _listify(v) for k, v in seg.items()},
    }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    cases = make_cases(args.count, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        cases_path, answers_path = Path(tmp) / "cases.json", Path(tmp) / "answers.json"
        cases_path.write_text(json.dumps(cases))
        rscript = os.environ.get("RSCRIPT", "Rscript")
        subprocess.run(
            [rscript, str(HERE / "ptd_parity.R"), str(cases_path), str(answers_path)], check=True
        )
        answers = json.loads(answers_path.read_text())
    by_id = {a["id"]: a for a in answers["answers"]}
    corpus = {
        "about": "NHSRplotthedots' answers for generated XmR cases; regenerate with "
        "tools/spc_parity/generate.py. Monthly dates from "
        f"{START.isoformat()}; numbers read back bit for bit.",
        "start": START.isoformat(),
        "seed": args.seed,
        "nhsrplotthedots": answers["nhsrplotthedots"],
        "r": answers["r"],
        "dplyr": answers["dplyr"],
        "cases": [record(c, by_id[c["id"]]) for c in cases],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8", compresslevel=9) as fh:
        json.dump(corpus, fh, separators=(",", ":"))
    errors = sum("r_error" in c for c in corpus["cases"])
    print(f"{args.out}: {len(cases)} cases ({errors} the package could not chart)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
