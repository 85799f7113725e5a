"""What the action command groups share: build a command, hand it to the bus, show the result.

Entry points only translate: options become a command, the bus does the rest. Errors go to
stderr and exit 2 with nothing written.
"""

from __future__ import annotations

import functools
import getpass
import importlib
import inspect
import json
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from wardprog.cli.common import console, fail
from wardprog.errors import WardprogError

if TYPE_CHECKING:
    from wardprog.commands import Command

By = Annotated[str, typer.Option("--by", help="Who is acting (name, as it goes in the audit).")]
OptionalBy = Annotated[
    str | None, typer.Option("--by", help="Who is acting (default: your login name).")
]
Email = Annotated[str, typer.Option("--email", help="Your email, for the audit trail.")]


def parse_date(value: str | date) -> date:
    """YYYY-MM-DD, or a usage error that repeats what was typed."""
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


def parse_datetime(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date and time; use YYYY-MM-DD HH:MM"
        ) from None


On = Annotated[
    date | None,
    typer.Option(
        "--on", parser=parse_date, metavar="DATE", help="Date it happened (default today)."
    ),
]
Json = Annotated[bool, typer.Option("--json", help="One JSON object per line, for scripts.")]
# An IHI progress score, the same for an item's project and a project of its own.
ScoreValue = Annotated[float, typer.Argument(metavar="SCORE", help="IHI score 0.5..5.0, step 0.5.")]
ScoreWhy = Annotated[str, typer.Option(help="The evidence for the score.")]
EvidenceNote = Annotated[
    str,
    typer.Option(help="For 3.0 or more without the measure 20% of the way: why not."),
]


def act(
    kind: type[Command],
    by: str | None,
    email: str,
    on: date | None,
    as_json: bool,
    /,
    **fields: Any,
) -> None:
    """Build ``kind`` from the options, handle it, print what was recorded (or exit 2).

    Every action command takes ``--by``, ``--email``, ``--on`` and ``--json``: they come first,
    in that order, and ``on`` left out means today.
    """
    from wardprog import clock
    from wardprog.commands import build
    from wardprog.db import get_engine
    from wardprog.services.handlers import handle

    fields["on"] = on or clock.today()
    try:
        command = build(
            kind,
            actor={"name": by or getpass.getuser(), "email": email},
            source={"kind": "cli"},
            **fields,
        )
        result = handle(get_engine(), command)
    except WardprogError as exc:
        fail(exc)
    if as_json:
        typer.echo(json.dumps(result.as_json(), default=str))
    else:
        # Summaries carry staff text: never markup.
        console.print(
            f"{result.summary}  (action {result.action_id})", markup=False, highlight=False
        )


Fields = dict[str, Any]


def action(
    group: typer.Typer,
    name: str,
    kind: str,
    *,
    by_required: bool = True,
    options: Sequence[inspect.Parameter] = (),
) -> Callable[[Callable[..., Fields]], Callable[..., Fields]]:
    """Register ``wardprog <group> <name>``, the CLI door of the command ``kind``.

    The decorated function takes the command's own arguments and options and returns the
    command's fields; what every action shares (``--by``, ``--on``, ``--email``, ``--json``,
    building the command, handing it to the bus, printing the result) is added here, once.
    ``kind`` names the command class in ``wardprog.commands``, imported only when the command
    runs (``wardprog --help`` stays fast). ``by_required=False`` for actions a person runs from
    their own login (``--by`` defaults to it). A function that declares one of the shared
    options itself (a required ``--on``) keeps its own declaration and receives the value too.
    ``options`` are a group of options several commands share (a project's record): they come
    after the command's own and reach the function through its ``**kwargs``.
    """
    shared = [
        inspect.Parameter(
            "by",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=By if by_required else OptionalBy,
            default=inspect.Parameter.empty if by_required else None,
        ),
        inspect.Parameter("on", inspect.Parameter.KEYWORD_ONLY, annotation=On, default=None),
        inspect.Parameter("email", inspect.Parameter.KEYWORD_ONLY, annotation=Email, default=""),
        inspect.Parameter(
            "as_json", inspect.Parameter.KEYWORD_ONLY, annotation=Json, default=False
        ),
    ]

    def register(fields_of: Callable[..., Fields]) -> Callable[..., Fields]:
        own = [
            p
            for p in inspect.signature(fields_of, eval_str=True).parameters.values()
            if p.kind is not inspect.Parameter.VAR_KEYWORD
        ]
        declared = {p.name for p in own}

        @functools.wraps(fields_of)
        def command(**options: Any) -> None:
            by, on, email, as_json = (
                options[k] if k in declared else options.pop(k)
                for k in ("by", "on", "email", "as_json")
            )
            command_class = getattr(importlib.import_module("wardprog.commands"), kind)
            act(command_class, by, email, on, as_json, **fields_of(**options))

        # Typer reads the parameters from the signature: the command's own, then the shared.
        added = [p for p in shared if p.name not in declared]
        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [*own, *options, *added]
        )
        group.command(name)(command)
        return fields_of

    return register


def print_rows(
    rows: Iterable[dict[str, Any]], columns: Iterable[str], *, title: str, as_json: bool
) -> None:
    rows = list(rows)
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row, default=str, ensure_ascii=False))
        return
    cols = list(columns)
    table = Table(title=f"{title} ({len(rows)})")
    for name in cols:
        table.add_column(name.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*(Text("" if row.get(c) is None else str(row.get(c))) for c in cols))
    console.print(table)
