"""What every `wardprog` command module shares: one console, date options, JSON output, errors.

Only typer and rich are imported here (and by every command module at its top): a command
imports the database, Prefect or pandas inside its body, so `wardprog --help` and
`wardprog spc` start without them.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated, Any, NoReturn

import click
import typer
from rich.console import Console

from wardprog.errors import WardprogError

# Piped output (CI logs, files) gets a readable width rather than rich's default of 80.
console = Console() if sys.stdout.isatty() else Console(width=140)
# Errors, warnings and notes go to stderr so `--json` output stays parseable.
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


class LazyChoice(click.Choice[str]):
    """One of an enum's values, the enum imported only when a value or the help needs it.

    The domain's enums live beside their SQLModel tables; importing them to build every
    command's options would load SQLAlchemy for `wardprog --help`. The command receives the
    value as a string and builds the enum in its body.
    """

    def __init__(self, module: str, name: str) -> None:
        self._where = (module, name)
        self._values: list[str] | None = None
        self.case_sensitive = True

    @property  # type: ignore[override]
    def choices(self) -> list[str]:
        if self._values is None:
            import importlib

            module, name = self._where
            enum = getattr(importlib.import_module(module), name)
            self._values = [member.value for member in enum]
        return self._values

    @choices.setter
    def choices(self, value: Any) -> None:  # click.Choice.__init__ would set it
        self._values = list(value)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The enum member itself (a StrEnum is a str, as the annotation says)."""
        import importlib

        chosen = super().convert(value, param, ctx)
        module, name = self._where
        return getattr(importlib.import_module(module), name)(chosen)


AsOf = Annotated[
    date | None,
    typer.Option("--as-of", click_type=DATE, help="Date on the programme clock (default today)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def fail(exc: WardprogError | str) -> NoReturn:
    """Print the error on stderr as it is (file names and rows are not markup) and exit 2."""
    err_console.print(f"error: {exc}", style="red", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(2)


def warn(message: str) -> None:
    err_console.print(f"warning: {message}", style="yellow", highlight=False, markup=False)


def note(message: str) -> None:
    """One line on stderr as it is (notes beside `--json` output, the lines of an error list)."""
    err_console.print(message, highlight=False, markup=False, soft_wrap=True)


def print_json(value: Any) -> None:
    """One JSON document on stdout (dates as ISO strings), for scripts."""
    typer.echo(json.dumps(value, default=_json_default, indent=2, sort_keys=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
