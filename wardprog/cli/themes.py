"""`wardprog themes ...`: trust-wide themes across wards; merge and split them."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from wardprog.cli.actions import (
    Fields,
    Json,
    action,
    print_rows,
)

themes_app = typer.Typer(
    help="Trust-wide themes: the same problem raised on many wards, as one.",
    invoke_without_command=True,
)
Key = Annotated[str, typer.Argument(metavar="THEME", help="Theme key, e.g. T3.")]


@themes_app.callback()
def list_themes(
    ctx: typer.Context,
    min_wards: Annotated[
        int, typer.Option("--min-wards", min=1, help="Only themes raised by at least N wards.")
    ] = 1,
    as_json: Json = False,
) -> None:
    """Each theme with its wards, categories and status, most wards first."""
    from sqlmodel import Session

    from wardprog.db import get_engine

    if ctx.invoked_subcommand is not None:
        return
    from wardprog.services.themes import theme_rows

    with Session(get_engine()) as session:
        rows = theme_rows(session, min_wards)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    shown = [
        {**r, "wards": ", ".join(r["wards"]), "categories": ", ".join(r["categories"])}
        for r in rows
    ]
    print_rows(
        shown,
        ("theme", "ward_count", "status", "categories", "title", "wards"),
        title="Themes",
        as_json=False,
    )


@action(themes_app, "merge", "MergeThemes")
def merge(
    themes: Annotated[list[str], typer.Argument(metavar="THEME...", help="Themes to merge in.")],
    into: Annotated[str, typer.Option("--into", help="The theme they join.")],
) -> Fields:
    """Merge themes that are one problem (their items move into --into)."""
    return {"into": into, "themes": themes}


@action(themes_app, "split", "SplitTheme")
def split(
    theme: Key,
    item: Annotated[list[int], typer.Option("--item", help="Item id to move out (repeat).")],
) -> Fields:
    """Move items that are a different problem into a new theme of their own."""
    return {"theme": theme, "item_ids": item}


def register(app: typer.Typer) -> None:
    app.add_typer(themes_app, name="themes")
