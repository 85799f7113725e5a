"""The `wardprog` command: a thin layer over the services and flows, one module per group.

`wardprog.cli.app` builds the Typer app from the command modules beside it; the console script
(`wardprog = "wardprog.cli:app"`) and `python -m wardprog.cli` run it.
"""

from wardprog.cli.app import app

__all__ = ["app"]
