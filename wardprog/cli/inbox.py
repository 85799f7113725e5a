"""`wardprog inbox file`: file every register the improvement team dropped in its inbox."""

from __future__ import annotations

from datetime import date

import typer

from wardprog.cli.common import AsJson, AsOf, console, fail, print_json
from wardprog.errors import WardprogError

inbox_app = typer.Typer(
    help="The improvement team's inbox (<inbox>/team/register|staff|owners|attendance/).",
    no_args_is_help=True,
)


@inbox_app.command("file")
def file_returns(as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Import every waiting team file: good ones to processed/, bad ones to rejected/ with
    their .errors.txt (the team gets one message). Exits 0 when every file was handled."""
    from rich.table import Table
    from rich.text import Text

    from wardprog.config import get_settings
    from wardprog.db import get_engine
    from wardprog.services.team_inbox import file_team_returns

    settings = get_settings()
    try:
        filed = file_team_returns(get_engine(), settings, as_of or date.today())
    except WardprogError as exc:
        fail(exc)
    if as_json:
        print_json([f.as_json() for f in filed])
        return
    if not filed:
        console.print(f"No team files waiting in {settings.inbox_dir}/team/.", markup=False)
        return
    table = Table(title=f"Team returns ({len(filed)})")
    for column in ("kind", "file", "outcome", "summary"):
        table.add_column(column, overflow="fold")
    for f in filed:
        # File names and summaries are the team's text: never markup.
        table.add_row(Text(f.kind), Text(f.file), Text(f.outcome), Text(f.summary))
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(inbox_app, name="inbox")
