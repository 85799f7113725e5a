"""Diagnostics commands for the `wardprog` CLI: spc, check-extracts, generate-extracts.

``wardprog spc`` is a contract other tools rely on: with ``--json`` it prints one JSON object per
point, in date order, with the keys ``date, value, mean, lpl, upl, special_cause,
special_cause_type, point_type, short_segment, variation_icon, assurance_icon`` (NaN limits,
e.g. for a one-point segment, print as null; a missing value prints as null and is charted as
NHSRplotthedots charts it). ``special_cause_type`` names the rule that fired (NHSRplotthedots'
labels, e.g. "7 Point Trend (Increasing)", "2 in 3 Below CL", or "Common Cause");
``short_segment`` is true for a segment of fewer than 13 points, whose limits are trial limits.
The icons describe the rebase segment the point belongs to (its last point decides the variation
icon; the assurance icon is given for the current segment only, as NHSRplotthedots' summary does).
Notes (trial limits, a rebase date that is not in the data) go to stderr, one line each.
"""

from __future__ import annotations

import json
import math
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from wardprog.cli.common import DATE, console, fail, note
from wardprog.errors import InputFileError, RowProblem, WardprogError


class ImprovementOption(StrEnum):
    increase = "increase"
    decrease = "decrease"
    neutral = "neutral"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def spc_points(
    path: Path,
    *,
    date_column: str,
    value_column: str,
    improvement: str = "increase",
    target: float | None = None,
    rebase: list[date] | None = None,
    fix_after_n_points: int | None = None,
    screen_outliers: bool = True,
) -> list[dict[str, Any]]:
    """Read ``path`` (CSV, Parquet or Excel), validate it and chart it; one dict per point.

    A blank value is a missing value: the row is charted (value None) as NHSRplotthedots charts
    it, with no moving range across the gap.
    """
    points, _ = _chart_file(
        path,
        date_column=date_column,
        value_column=value_column,
        improvement=improvement,
        target=target,
        rebase=rebase or [],
        fix_after_n_points=fix_after_n_points,
        screen_outliers=screen_outliers,
    )
    return points


def _chart_file(
    path: Path,
    *,
    date_column: str,
    value_column: str,
    improvement: str,
    target: float | None,
    rebase: list[date],
    fix_after_n_points: int | None,
    screen_outliers: bool,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The points and the notes for stderr (trial limits, rebase dates not in the data)."""
    from wardprog.rules.spc import SHORT_GROUP_THRESHOLD, rebase_dates_not_in_data, spc
    from wardprog.sources.extracts import read_table
    from wardprog.sources.schema import Column, ColumnType, ExtractSpec
    from wardprog.sources.validate import validate_frame

    spec = ExtractSpec(
        "spc input",
        "a time series",
        (
            Column(date_column, ColumnType.date),
            Column(value_column, ColumnType.number, required=False),
        ),
    )
    frame = validate_frame(spec, read_table(path), path)
    dupes = frame[spec.columns[0].name].duplicated(keep="first")
    if dupes.any():
        rows = frame.loc[dupes, "_row"].tolist()
        raise InputFileError(
            path,
            [
                RowProblem(int(r), date_column, "duplicate date: each date may appear once")
                for r in rows[:20]
            ],
        )
    dates = frame[spec.columns[0].name]
    chart = spc(
        dates,
        frame[spec.columns[1].name],
        improvement=improvement,
        target=target,
        rebase=rebase,
        fix_after_n_points=fix_after_n_points,
        screen_outliers=screen_outliers,
    )
    points = [
        {
            "date": r["date"].date().isoformat(),
            "value": _clean(float(r["value"])),
            "mean": _clean(float(r["mean"])),
            "lpl": _clean(float(r["lpl"])),
            "upl": _clean(float(r["upl"])),
            "special_cause": bool(r["special_cause"]),
            "special_cause_type": str(r["special_cause_type"]),
            "point_type": str(r["point_type"]),
            "short_segment": bool(r["short_group_warning"]),
            "variation_icon": str(r["variation_icon"]),
            "assurance_icon": r["assurance_icon"] if isinstance(r["assurance_icon"], str) else None,
        }
        for r in chart.to_dict("records")
    ]
    notes = []
    for asked, used in rebase_dates_not_in_data(dates, rebase):
        where = (
            f"the new limits start at the next point, {used.date().isoformat()}"
            if used is not None
            else "it is after the last point, so nothing is rebased"
        )
        notes.append(
            f"note: rebase date {asked.date().isoformat()} is not in the data: {where} "
            "(NHSRplotthedots would ignore it)"
        )
    sizes = chart.groupby("rebase_group").size()
    short = sizes[sizes < SHORT_GROUP_THRESHOLD]
    if len(short):
        which = ", ".join(
            f"{chart.loc[chart['rebase_group'] == g, 'date'].iloc[0].date().isoformat()} "
            f"({n} points)"
            for g, n in short.items()
        )
        notes.append(
            f"warning: trial limits: {len(short)} segment(s) have fewer than "
            f"{SHORT_GROUP_THRESHOLD} points (starting {which}); their limits will be revised "
            "with each new point"
        )
    return points, notes


def register(app: typer.Typer) -> None:
    """Add the diagnostics commands to ``app`` (the main ``wardprog`` Typer app)."""

    @app.command("spc")
    def spc_command(
        file: Annotated[
            Path, typer.Argument(exists=True, dir_okay=False, help="CSV, Parquet or Excel file.")
        ],
        date_column: Annotated[str, typer.Option("--date-column", help="Column of dates.")],
        value_column: Annotated[str, typer.Option("--value-column", help="Column of values.")],
        improvement: Annotated[
            ImprovementOption,
            typer.Option(help="Which direction is better (neutral: neither)."),
        ] = ImprovementOption.increase,
        target: Annotated[
            float | None, typer.Option(help="Target value, for the assurance icon.")
        ] = None,
        rebase: Annotated[
            list[str] | None,
            typer.Option(
                help="Start new limits from this date (YYYY-MM-DD); repeat for several. A date "
                "that is not in the data starts them at the next point (NHSRplotthedots would "
                "ignore it), and a note on stderr says so.",
            ),
        ] = None,
        fix_after: Annotated[
            int | None,
            typer.Option(
                "--fix-after",
                min=12,
                help="Fix each segment's limits on its first N points (12 or more, as in "
                "NHSRplotthedots' fix_after_n_points).",
            ),
        ] = None,
        screen_outliers: Annotated[
            bool,
            typer.Option(
                "--screen-outliers/--no-screen-outliers",
                help="Leave moving ranges of 3.267 x the mean moving range or more out of the "
                "limits (NHSRplotthedots' default; the Making Data Count Excel tool does not).",
            ),
        ] = True,
        as_json: Annotated[
            bool, typer.Option("--json", help="One JSON object per point (machine-readable).")
        ] = False,
    ) -> None:
        """Making Data Count XmR chart of a time series (NHSRplotthedots rules)."""
        try:
            rebase_dates = [date.fromisoformat(d) for d in rebase or []]
        except ValueError as exc:
            fail(f"--rebase: {exc} (use YYYY-MM-DD)")
        try:
            points, notes = _chart_file(
                file,
                date_column=date_column,
                value_column=value_column,
                improvement=improvement.value,
                target=target,
                rebase=rebase_dates,
                fix_after_n_points=fix_after,
                screen_outliers=screen_outliers,
            )
        except WardprogError as exc:
            fail(exc)
        for line in notes:
            note(line)
        if as_json:
            for p in points:
                typer.echo(json.dumps(p))
            return
        table = Table(title=f"SPC: {value_column} ({improvement.value} is better)")
        for name in ("date", "value", "mean", "lpl", "upl", "point_type", "rule"):
            table.add_column(name)
        for p in points:
            table.add_row(
                p["date"],
                *(
                    f"{p[k]:.2f}" if p[k] is not None else "-"
                    for k in ("value", "mean", "lpl", "upl")
                ),
                p["point_type"],
                p["special_cause_type"] if p["special_cause"] else "",
            )
        console.print(table)
        if points:
            last = points[-1]
            console.print(
                f"variation: {last['variation_icon']}; assurance: {last['assurance_icon'] or '-'}"
            )

    @app.command("check-extracts")
    def check_extracts(
        folder: Annotated[
            Path | None, typer.Argument(help="Extracts folder (default: the configured one).")
        ] = None,
        as_of: Annotated[
            str | None,
            typer.Option("--as-of", help="Judge 'in the future' against this date (YYYY-MM-DD)."),
        ] = None,
    ) -> None:
        """Validate every diagnostic extract: cells, then what cannot be true (duplicates...).

        Rows for wards outside the register are skipped (one line says how many). Every problem
        is listed with its file, row and column; exit 2 if there is any.
        """
        from sqlmodel import Session, select

        from wardprog.config import get_settings
        from wardprog.db import get_engine
        from wardprog.models import Ward
        from wardprog.services.diagnostics import check_extract_wards
        from wardprog.sources.extracts import load_folder
        from wardprog.sources.plausibility import as_errors

        settings = get_settings()
        try:
            day = date.fromisoformat(as_of) if as_of else date.today()
        except ValueError as exc:
            fail(f"--as-of: {exc} (use YYYY-MM-DD)")
        try:
            extracts = load_folder(folder or settings.extracts_dir, use_cache=False)
            with Session(get_engine(settings.database_url)) as session:
                skipped = check_extract_wards(session, extracts)
                known = set(session.exec(select(Ward.code)).all())
        except WardprogError as exc:
            fail(exc)
        if skipped:
            typer.echo(skipped)
        findings = [
            f
            for f in extracts.impossible(
                as_of=day, max_actual_to_planned=settings.extract_max_actual_to_planned
            )
            if f.ward_code is None or f.ward_code in known
        ]
        if findings:
            lines = [f"{len(findings):,} value(s) that cannot be true"]
            for error in as_errors(findings, extracts.sources):
                lines.append(f"{error.path}:")
                lines.extend(f"  - {problem}" for problem in error.problems)
            fail("\n".join(lines))
        for name, frame in extracts.tables.items():
            typer.echo(f"{name}: {len(frame):,} rows OK ({extracts.sources[name]})")

    @app.command("generate-extracts")
    def generate_extracts_command(
        start: Annotated[date, typer.Option(click_type=DATE, help="First month.")] = date(
            2023, 1, 1
        ),
        end: Annotated[date, typer.Option(click_type=DATE, help="Last month.")] = date(
            2026, 12, 31
        ),
        out: Annotated[
            Path | None, typer.Option(help="Folder to write (default: the extracts folder).")
        ] = None,
        seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    ) -> None:
        """Write synthetic extracts for every ward in the register (demo and testing)."""
        from wardprog.config import get_settings
        from wardprog.db import session_scope
        from wardprog.services.diagnostics import generate_register_extracts

        settings = get_settings()
        first, last = start, end
        if last < first:
            fail(f"--end {last} is before --start {first}")
        try:
            from wardprog.db import get_engine

            with session_scope(get_engine(settings.database_url)) as session:
                paths = generate_register_extracts(
                    session, out or settings.extracts_dir, first, last, seed
                )
        except WardprogError as exc:
            fail(exc)
        table = Table(title=f"Synthetic extracts {first} to {last} (seed {seed})")
        table.add_column("extract")
        table.add_column("file")
        for p in paths:
            table.add_row(Path(p).stem, str(p))
        console.print(table)
