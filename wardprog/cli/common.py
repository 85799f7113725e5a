"""What every `wardprog` command module shares: consoles, date options, JSON output, errors."""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Any, NoReturn

import click
import typer
from rich.console import Console

from wardprog.errors import WardprogError

# Piped output (CI logs, files) gets a readable width rather than rich's default of 80.
console = Console() if sys.stdout.isatty() else Console(width=140)
# Errors and warnings go to stderr so `--json` output stays parseable.
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, width=140)


class DateType(click.ParamType):
    """A calendar date written YYYY-MM-DD; the error names the value given."""

    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value).strip())
        except ValueError:
            self.fail(f"{value!r} is not a date (use YYYY-MM-DD)", param, ctx)


# Use as `typer.Option(..., click_type=DATE)`: one way to read dates in every command.
DATE = DateType()


def fail(exc: WardprogError | str) -> NoReturn:
    """Print the error on stderr as it is (file names and rows are not markup) and exit 2."""
    err_console.print(f"error: {exc}", style="red", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(2)


def warn(message: str) -> None:
    err_console.print(f"warning: {message}", style="yellow", highlight=False, markup=False)


def print_json(value: Any) -> None:
    """One JSON document on stdout (dates as ISO strings), for scripts."""
    typer.echo(json.dumps(value, default=_json_default, indent=2, sort_keys=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
