"""The `wardprog` Typer app: global options, one way errors end, every command group registered.

Only typer and rich are imported at start: each command imports what it needs (the database,
Prefect, pandas) in its body, so `wardprog --help` and `wardprog spc` start quickly.
"""

from __future__ import annotations

import copy
import os
import sys
from typing import Annotated, Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import click
import typer
from typer.core import TyperGroup

from wardprog.cli.common import fail
from wardprog.demo import DEFAULT_ROOT as DEMO_ROOT
from wardprog.errors import WardprogError


class WardprogGroup(TyperGroup):
    """Every command's user errors end the same way: one line on stderr, exit 2, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WardprogError as exc:
            fail(exc)
        except OSError as exc:
            # A path the user gave that cannot be read or written (a folder, no permission).
            if exc.filename is None:
                raise
            fail(f"{exc.filename}: {exc.strerror or exc}")
        except Exception as exc:
            if _is_database_error(exc):
                fail(_database_problem(exc))
            raise


def _is_database_error(exc: Exception) -> bool:
    # SQLAlchemy is imported only by commands that use the database: if it is not loaded, the
    # error cannot be one of its own (and importing it here would cost every command).
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(
        exc, (errors.OperationalError, errors.ProgrammingError)
    )


def _database_problem(exc: Exception) -> str:
    from sqlalchemy.engine import make_url

    from wardprog.config import get_settings

    try:
        where = make_url(get_settings().database_url).render_as_string(hide_password=True)
    except Exception:
        where = "the database"
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return f"{where} has no wardprog tables yet: run `wardprog db upgrade` first ({text})"
    return f"cannot use {where}: {text} (check WARDPROG_DATABASE_URL)"


class WardprogTyper(typer.Typer):
    """The app; run as the console script, it builds only the command named on the line.

    Typer turns every command's signature into click options before parsing the line; for
    `wardprog spc FILE` or `wardprog status` the other fifty-odd are work thrown away. The full
    app is built when no command is named (`wardprog --help`) or the name is unknown (click's
    own "No such command"), and always for callers that pass arguments (tests, `wardprog.docs`).
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = _command_named(sys.argv[1:])
        if args or kwargs or name is None:
            return super().__call__(*args, **kwargs)
        lean = copy.copy(self)
        lean.registered_commands = [
            c
            for c in self.registered_commands
            if name == (c.name or typer.main.get_command_name(getattr(c.callback, "__name__", "")))
        ]
        lean.registered_groups = [g for g in self.registered_groups if g.name == name]
        if not (lean.registered_commands or lean.registered_groups):
            return super().__call__()
        return typer.Typer.__call__(lean)


def _command_named(argv: list[str]) -> str | None:
    # The global options (--demo, -v/--verbose) take no value: the first other word is the
    # command.
    return next((word for word in argv if not word.startswith("-")), None)


app = WardprogTyper(
    cls=WardprogGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Help and usage errors render as click renders them: rich's help panels cost a quarter of
    # a second of imports on every `--help` (and the README reference reads the same way).
    rich_markup_mode=None,
)


@app.callback()
def main(
    ctx: typer.Context,
    demo_trust: Annotated[
        bool,
        typer.Option(
            "--demo", help="Act on the demo trust's own database and folders (var/demo/)."
        ),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "-v",
            "--verbose",
            count=True,
            show_default=False,
            metavar="",
            help="Show Prefect's run logs on the console (-vv: debug). Runs always log to the "
            "Prefect API.",
        ),
    ] = 0,
) -> None:
    """Run the ward improvement programme.

    Prefect keeps its state in PREFECT_HOME (default: var/prefect in the working directory).
    Set PREFECT_API_URL to use a running Prefect server instead of the local API.
    """
    from wardprog.prefect_env import configure_prefect

    if not demo_trust:
        configure_prefect(verbose)
        return
    from wardprog.cli.demo import seal_prefect
    from wardprog.config import use_settings
    from wardprog.demo.area import DemoArea

    area = DemoArea(DEMO_ROOT)
    if not area.is_marked():
        fail(WardprogError(f"no demo trust in {DEMO_ROOT}/: run `wardprog demo` first"))
    # The demo's flow runs stay in its own Prefect database, as `wardprog demo` keeps them,
    # never on a server PREFECT_API_URL names (`--demo launch` must not reach production).
    configure_prefect(verbose, default_home=area.prefect_home.resolve())
    seal_prefect(area.prefect_home)
    ctx.with_resource(use_settings(area.settings()))


def _register_groups() -> None:
    """Each module adds its commands; the order here is the order `wardprog --help` lists."""
    from wardprog.cli import (
        audit,
        db,
        demo,
        diagnostics,
        evaluate,
        events,
        inbox,
        items,
        launch,
        owners,
        programme,
        projects,
        qsir,
        resources,
        status,
        themes,
        web,
    )

    programme.register(app)
    launch.register(app)
    demo.register(app)
    status.register(app)
    db.register(app)
    diagnostics.register(app)
    resources.register(app)
    web.register(app)
    items.register(app)
    qsir.register(app)
    events.register(app)
    owners.register(app)
    inbox.register(app)
    themes.register(app)
    audit.register(app)
    app.command("evaluate")(evaluate.evaluate)
    projects.register(app)


_register_groups()


if __name__ == "__main__":
    app()
