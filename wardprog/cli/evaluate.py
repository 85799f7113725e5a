"""`wardprog evaluate`: is the programme working? A stepped-wedge estimate per metric.

Two doors, one contract (other tools rely on it)::

    wardprog evaluate FILE.csv --ward-column W --date-column D --value-column V --start-column S
                      [--lag N] --json
    wardprog evaluate --metric falls_per_1000_obd [--as-of DATE] [--lag N] --json

``FILE`` has one row per ward-month; ``S`` is the ward's engagement date (empty for a ward not yet
joined); a blank value is a month with no return and is left out. With ``--json`` one object
is printed with the keys ``effect, ci_low, ci_high, p_value, wards, observations,
exposed_observations, method``. When the effect cannot be estimated the
command prints why on stderr and exits 2 (nothing on stdout). Without FILE or ``--metric`` every
programme metric is evaluated and shown as a table (``--json``: one object per line, with
``metric`` added).
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from wardprog.cli.common import DATE, console, err_console
from wardprog.errors import InputFileError, RowProblem, WardprogError

if TYPE_CHECKING:
    import pandas as pd

    from wardprog.rules.evaluation import Estimate


def _error(message: str) -> typer.Exit:
    # The one error console (stderr, not wrapped or styled), for `raise _error(...)`.
    err_console.print(
        f"error: {message}", style="red", highlight=False, markup=False, soft_wrap=True
    )
    return typer.Exit(2)


def file_panel(
    path: Path, *, ward_column: str, date_column: str, value_column: str, start_column: str
) -> pd.DataFrame:
    """Read and validate a ward-month file into a panel (ward, month, value, start)."""
    import pandas as pd

    from wardprog.rules.metrics import month_start
    from wardprog.sources.extracts import read_table
    from wardprog.sources.schema import Column, ColumnType, ExtractSpec
    from wardprog.sources.validate import validate_frame

    spec = ExtractSpec(
        "evaluation input",
        "one row per ward-month",
        (
            Column(ward_column, ColumnType.text),
            Column(date_column, ColumnType.date),
            # A blank value is a month with no return: left out, not an error.
            Column(value_column, ColumnType.number, required=False),
            Column(start_column, ColumnType.date, required=False),
        ),
    )
    frame = validate_frame(spec, read_table(path), path)
    panel = pd.DataFrame(
        {
            "ward": frame[ward_column].astype(str).str.strip(),
            "month": month_start(pd.to_datetime(frame[date_column])),
            "value": frame[value_column].astype(float),
            "start": pd.to_datetime(frame[start_column]),
            "_row": frame["_row"],
        }
    )
    problems: list[RowProblem] = []
    dupes = panel.duplicated(["ward", "month"], keep="first")
    problems += [
        RowProblem(int(r), date_column, "a second row for this ward and month")
        for r in panel.loc[dupes, "_row"]
    ]
    starts = panel.groupby("ward")["start"].nunique(dropna=True)
    for ward in starts[starts > 1].index:
        rows = panel.loc[panel["ward"] == ward, "_row"]
        problems.append(
            RowProblem(
                int(rows.iloc[0]),
                start_column,
                f"ward {ward!r} has more than one engagement date: give each ward one",
            )
        )
    if problems:
        raise InputFileError(path, problems)
    # A ward's date may be on one row only: every row of the ward shares it.
    panel["start"] = panel.groupby("ward")["start"].transform("first")
    return panel.dropna(subset=["value"]).drop(columns="_row").reset_index(drop=True)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _print_json(est: Estimate, *, with_metric: bool = False) -> None:
    out = {k: _clean(v) for k, v in est.contract().items()}
    if with_metric:
        out = {"metric": est.metric, **out}
    typer.echo(json.dumps(out))


def _table(estimates: list[Estimate], title: str) -> Table:
    from wardprog.rules.evaluation import plain_english
    from wardprog.rules.metrics import METRICS_BY_KEY

    table = Table(title=title)
    for col in ("metric", "effect", "95% CI", "p", "wards", "ward-months", "exposed", "reading"):
        table.add_column(col)
    for est in estimates:
        m = METRICS_BY_KEY.get(est.metric or "")
        d = m.decimals if m else 2
        if est.estimable and est.effect is not None:
            cells = [
                f"{est.effect:+,.{d}f}",
                f"{est.ci_low:,.{d}f} to {est.ci_high:,.{d}f}",
                f"{est.p_value:.3g}" if est.p_value is not None else "-",
            ]
        else:
            cells = ["-", "-", "-"]
        table.add_row(
            m.label if m else (est.metric or "value"),
            *cells,
            str(est.wards),
            str(est.observations),
            str(est.exposed_observations),
            plain_english(est),
        )
    return table


def evaluate(
    file: Annotated[
        Path | None,
        typer.Argument(dir_okay=False, help="CSV, Parquet or Excel file, one row per ward-month."),
    ] = None,
    ward_column: Annotated[str | None, typer.Option("--ward-column", help="Ward column.")] = None,
    date_column: Annotated[
        str | None, typer.Option("--date-column", help="Month column (any day in the month).")
    ] = None,
    value_column: Annotated[str | None, typer.Option("--value-column", help="Values.")] = None,
    start_column: Annotated[
        str | None,
        typer.Option("--start-column", help="The ward's engagement date (empty: not joined)."),
    ] = None,
    metric: Annotated[
        str | None,
        typer.Option("--metric", help="A programme metric, e.g. falls_per_1000_obd."),
    ] = None,
    as_of: Annotated[
        date | None,
        typer.Option("--as-of", click_type=DATE, help="Programme clock (default today)."),
    ] = None,
    lag: Annotated[
        int,
        typer.Option("--lag", min=0, help="Months to wait after the month following the event."),
    ] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable JSON.")] = False,
) -> None:
    """Stepped-wedge estimate of the programme's effect (mixed model with month effects)."""
    from wardprog.rules.evaluation import evaluate_panel

    if file is not None:
        if metric is not None:
            raise _error("give FILE or --metric, not both")
        columns = {
            "--ward-column": ward_column,
            "--date-column": date_column,
            "--value-column": value_column,
            "--start-column": start_column,
        }
        missing = [name for name, value in columns.items() if not value]
        if missing:
            raise _error(f"{', '.join(missing)} required with FILE")
        if not file.exists():
            raise _error(f"{file}: no such file")
        try:
            panel = file_panel(
                file,
                ward_column=ward_column or "",
                date_column=date_column or "",
                value_column=value_column or "",
                start_column=start_column or "",
            )
            est = evaluate_panel(panel, lag=lag, metric=None)
        except WardprogError as exc:
            raise _error(str(exc)) from exc
        _report_one(est, as_json, title=f"{value_column} after the engagement event")
        return

    from sqlmodel import Session

    from wardprog.config import get_settings
    from wardprog.db import get_engine
    from wardprog.services.evaluation import evaluate_programme

    settings = get_settings()
    try:
        with Session(get_engine(settings.database_url)) as session:
            result = evaluate_programme(
                session,
                settings,
                as_of or date.today(),
                lag=lag,
                metrics=[metric] if metric else None,
            )
    except WardprogError as exc:
        raise _error(str(exc)) from exc
    if metric is not None:
        _report_one(result.estimates[metric], as_json, title=metric)
        return
    estimates = list(result.estimates.values())
    if as_json:
        for est in estimates:
            _print_json(est, with_metric=True)
        return
    console.print(
        _table(
            estimates,
            f"Programme evaluation: ward-months {result.period_start:%b %Y} to "
            f"{result.period_end:%b %Y}" + (f", lag {lag} months" if lag else ""),
        )
    )


def _report_one(est: Estimate, as_json: bool, *, title: str) -> None:
    if not est.estimable:
        raise _error(f"the effect cannot be estimated: {est.reason}")
    if as_json:
        _print_json(est)
        return
    console.print(_table([est], title))
    console.print(est.method)
