"""`wardprog items ...`: list triage items; close, reopen, score and decide them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from wardprog.cli.actions import (
    EvidenceNote,
    Fields,
    Json,
    ScoreValue,
    ScoreWhy,
    action,
    parse_date,
    print_rows,
)
from wardprog.cli.common import LazyChoice

items_app = typer.Typer(
    help="Triage items: list them, close fixes, score projects, decide change requests.",
    invoke_without_command=True,
)

ItemId = Annotated[
    int, typer.Argument(metavar="ID", help="The item's id (first column of `wardprog items`).")
]
COLUMNS = (
    "id",
    "ward_code",
    "wave",
    "category",
    "status",
    "owner",
    "due_date",
    "review_date",
    "latest_score",
    "decision",
    "issue",
)


@items_app.callback()
def list_items(
    ctx: typer.Context,
    ward: Annotated[str | None, typer.Option(help="Ward code, e.g. NGH-ASH.")] = None,
    wave: Annotated[int | None, typer.Option(help="Wave number.")] = None,
    category: Annotated[
        str | None,
        typer.Option(
            click_type=LazyChoice("wardprog.models", "TriageCategory"),
            help="fix, improve or change.",
        ),
    ] = None,
    open_: Annotated[bool, typer.Option("--open", help="Only items still open.")] = False,
    as_json: Json = False,
) -> None:
    """Every triage item (or those matching the filters), with its latest IHI score."""
    from sqlmodel import Session

    from wardprog.db import get_engine

    if ctx.invoked_subcommand is not None:
        return
    from wardprog.models import TriageCategory
    from wardprog.services.views import item_rows

    chosen = TriageCategory(category) if category else None
    with Session(get_engine()) as session:
        rows = item_rows(session, ward_code=ward, wave=wave, category=chosen, open_only=open_)
    print_rows(rows, COLUMNS, title="Triage items", as_json=as_json)


@action(items_app, "close", "CloseItem")
def close(
    item_id: ItemId,
    outcome: Annotated[str, typer.Option(help="What was done about it.")],
) -> Fields:
    """Close an item: the ward hears "you said, we did"."""
    return {"item_id": item_id, "outcome": outcome}


@action(items_app, "reopen", "ReopenItem")
def reopen(
    item_id: ItemId,
    reason: Annotated[str, typer.Option(help="What is still not right.")],
) -> Fields:
    """Reopen a closed item."""
    return {"item_id": item_id, "reason": reason}


@action(items_app, "score", "ScoreProject")
def score(
    item_id: ItemId, value: ScoreValue, why: ScoreWhy, evidence_note: EvidenceNote = ""
) -> Fields:
    """Record an improvement project's IHI progress score (3.0+ needs evidence or a note)."""
    return {"item_id": item_id, "score": value, "why": why, "evidence_note": evidence_note}


@action(items_app, "decide", "DecideChange")
def decide(
    item_id: ItemId,
    decision: Annotated[
        str,
        typer.Argument(
            click_type=LazyChoice("wardprog.models", "ChangeDecision"),
            metavar="approve|decline|defer",
            help="approve, decline or defer.",
        ),
    ],
    owner: Annotated[str, typer.Option(help="Who puts it in place / owns the next step.")],
    note: Annotated[str, typer.Option(help="Why: what the ward will be told.")],
    review: Annotated[
        date | None,
        typer.Option(parser=parse_date, metavar="DATE", help="Next review (required to defer)."),
    ] = None,
) -> Fields:
    """Decide a change request (declining closes it and tells the ward why)."""
    return {
        "item_id": item_id,
        "decision": decision,
        "owner": owner,
        "note": note,
        "review": review,
    }


def register(app: typer.Typer) -> None:
    app.add_typer(items_app, name="items")
