"""`wardprog audit`: every action recorded, who did it, when and from where."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from wardprog.cli.actions import Json, parse_date, print_rows


def audit(
    ward: Annotated[str | None, typer.Option(help="Only this ward's actions.")] = None,
    since: Annotated[
        date | None,
        typer.Option(parser=parse_date, metavar="DATE", help="Actions on or after this date."),
    ] = None,
    as_json: Json = False,
) -> None:
    """The audit trail of actions (oldest first)."""
    from sqlmodel import Session

    from wardprog.db import get_engine
    from wardprog.services.views import action_rows

    with Session(get_engine()) as session:
        rows = action_rows(session, ward_code=ward, since=since)
    print_rows(
        rows,
        (
            "id",
            "acted_on",
            "command",
            "actor_name",
            "source",
            "source_ref",
            "ward_code",
            "subject",
            "outcome",
        ),
        title="Actions",
        as_json=as_json,
    )


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
