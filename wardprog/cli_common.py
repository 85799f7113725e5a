"""What every `wardprog` command module shares: the console and how errors end a command."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console

from wardprog.errors import WardprogError

# Piped output (CI logs, files) gets a readable width rather than rich's default of 80.
console = Console() if sys.stdout.isatty() else Console(width=140)


def fail(exc: WardprogError) -> NoReturn:
    """Print the error as it is (file names and rows are not markup) and exit 2."""
    console.print(f"error: {exc}", style="red", highlight=False, markup=False)
    raise typer.Exit(2)
