"""`wardprog owners ...`: the owners register (matrons, directorate leads, the executive)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wardprog.cli.actions import (
    Fields,
    Json,
    action,
    print_rows,
)

owners_app = typer.Typer(
    help="Who owns change requests and who they escalate to: list or import the register.",
    invoke_without_command=True,
)
COLUMNS = ("level", "site_code", "specialty", "directorate", "name", "email", "title")


@owners_app.callback()
def list_owners(ctx: typer.Context, as_json: Json = False) -> None:
    """The owners register, ladder order (matrons, directorate leads, executive)."""
    from sqlmodel import Session, col, select

    from wardprog.db import get_engine

    if ctx.invoked_subcommand is not None:
        return
    from wardprog.models import EscalationOwner

    with Session(get_engine()) as session:
        rows = session.exec(select(EscalationOwner).order_by(col(EscalationOwner.id))).all()
        order = {"matron": 0, "directorate": 1, "executive": 2}
        data = [
            {c: getattr(r, c) for c in COLUMNS}
            for r in sorted(rows, key=lambda r: (order.get(r.level, 9), r.id or 0))
        ]
    print_rows(data, COLUMNS, title="Owners", as_json=as_json)


@action(owners_app, "import", "ImportOwners", by_required=False)
def import_owners(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="Owners register, .csv or .xlsx.")],
) -> Fields:
    """Replace the owners register (columns: level, site_code, specialty, directorate, name,
    email[, title]); all rows or none."""
    return {"path": path}


def register(app: typer.Typer) -> None:
    app.add_typer(owners_app, name="owners")
