"""The monthly board report on the demo's database: seconds per report, HTML and PDF.

Writes each month's board report of the demo year (``write_board_html`` then ``print_pdf``, as
the ``board-report`` flow's two tasks do) from an existing demo area (run `make demo` first) into
a temporary output folder, so the demo's own reports are left alone. Prints each month's
seconds, the mean per report and, with ``--html DIR``, keeps the HTML to compare with another
build's (the report must not change when it gets cheaper). With ``--profile`` it prints the
evaluation's cProfile top functions instead of timing.

Usage: `.venv/bin/python benchmarks/board.py [--dir var/demo] [--html DIR] [--profile]`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The demo year's board reports: the 1st of each month after January 2026's, and January 2027's.
AS_OF = [date(2026, m, 1) for m in range(2, 13)] + [date(2027, 1, 1)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "demo")
    parser.add_argument("--html", type=Path, help="copy each month's HTML here")
    parser.add_argument("--profile", action="store_true", help="cProfile the HTML step")
    args = parser.parse_args(argv)

    from sqlmodel import Session

    from wardprog.config import use_settings
    from wardprog.db import get_engine
    from wardprog.demo.area import DemoArea
    from wardprog.reports.board import board_paths, print_pdf, write_board_html

    area = DemoArea(args.dir)
    if not area.is_marked():
        raise SystemExit(f"no demo in {args.dir}: run `make demo` first")
    with tempfile.TemporaryDirectory(prefix="wardprog-board-") as tmp:
        settings = area.settings().model_copy(update={"output_dir": Path(tmp)})
        engine = get_engine(settings.database_url)
        profile = cProfile.Profile() if args.profile else None
        rows = []
        with use_settings(settings):
            for as_of in AS_OF:
                t0 = time.perf_counter()
                with Session(engine) as session:
                    if profile:
                        profile.enable()
                    data, html = write_board_html(session, settings, as_of)
                    if profile:
                        profile.disable()
                t1 = time.perf_counter()
                print_pdf(html, board_paths(settings, as_of)[1])
                t2 = time.perf_counter()
                rows.append((data.month, t1 - t0, t2 - t1))
                if args.html:
                    args.html.mkdir(parents=True, exist_ok=True)
                    shutil.copy(html, args.html / html.name)
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        return
    print(f"{'month':<8} {'html s':>7} {'pdf s':>7} {'total s':>8}")
    for month, html_s, pdf_s in rows:
        print(f"{month:<8} {html_s:>7.2f} {pdf_s:>7.2f} {html_s + pdf_s:>8.2f}")
    n = len(rows)
    html_mean = sum(r[1] for r in rows) / n
    pdf_mean = sum(r[2] for r in rows) / n
    print(f"{'mean':<8} {html_mean:>7.2f} {pdf_mean:>7.2f} {html_mean + pdf_mean:>8.2f}")
    # The first report pays the imports, the extracts' first read and the browser's start.
    html_rest = sum(r[1] for r in rows[1:]) / (n - 1)
    pdf_rest = sum(r[2] for r in rows[1:]) / (n - 1)
    print(f"{'mean 2+':<8} {html_rest:>7.2f} {pdf_rest:>7.2f} {html_rest + pdf_rest:>8.2f}")


if __name__ == "__main__":
    main()
