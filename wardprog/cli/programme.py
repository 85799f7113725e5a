"""`wardprog import-wards`, `start-programme` and `plan`: the register and the rollout plan."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wardprog.cli.common import DATE, AsJson, console, print_json, warn
from wardprog.cli.demo import DEMO_START


def import_wards(
    path: Annotated[
        Path, typer.Argument(help="The ward register (.csv or .xlsx).", metavar="FILE")
    ],
    as_json: AsJson = False,
) -> None:
    """Import (or update) the ward register; all rows or none."""
    from wardprog.db import session_scope
    from wardprog.services.installation import claim_production
    from wardprog.services.register import import_register

    with session_scope() as session:
        claim_production(session, "wardprog import-wards")
        result = import_register(session, path)
    if as_json:
        print_json(vars(result))
        return
    console.print(
        f"sites added {result.sites_added}, wards added {result.wards_added}, "
        f"wards updated {result.wards_updated}"
    )


def start_programme(
    start: Annotated[
        date | None,
        typer.Option(
            click_type=DATE,
            help="First day of the programme (required the first time); the first wave is the "
            "quarter containing it.",
        ),
    ] = None,
) -> None:
    """Create the programme, or confirm the one that exists (its start cannot move)."""
    from wardprog.config import get_settings
    from wardprog.db import session_scope
    from wardprog.services.programme import start_programme as start_service

    with session_scope() as session:
        programme, created = start_service(session, get_settings(), start)
        verb = "created" if created else "already exists"
        console.print(f"{programme.name} {verb}: starts {programme.start_date}")


def plan(
    start: Annotated[
        date, typer.Option(click_type=DATE, help="Start to plan from if no programme exists yet.")
    ] = DEMO_START,
    as_json: AsJson = False,
) -> None:
    """Print the rollout plan: which wards join which quarterly wave."""
    from sqlmodel import Session

    from wardprog.config import get_settings
    from wardprog.db import get_engine
    from wardprog.services.programme import horizon_warning, programme_or_draft, rollout_plan

    settings = get_settings()
    with Session(get_engine()) as session:
        programme = programme_or_draft(session, settings, start)
        waves = rollout_plan(session, programme)
    warning = horizon_warning(waves, programme.start_date, settings.rollout_horizon_years)
    if warning:
        warn(warning)
    if as_json:
        print_json(
            [
                {
                    "wave": w.number,
                    "quarter_start": w.quarter_start,
                    "quarter_end": w.quarter_end,
                    "ward_codes": list(w.ward_codes),
                }
                for w in waves
            ]
        )
        return
    table = Table(title=f"Rollout plan from {programme.start_date}")
    for col in ("wave", "quarter", "wards", "ward codes"):
        table.add_column(col)
    for w in waves:
        table.add_row(
            str(w.number),
            f"{w.quarter_start} to {w.quarter_end}",
            str(len(w.ward_codes)),
            ", ".join(w.ward_codes),
        )
    console.print(table)
    if not waves:
        console.print("No wards to plan: import the register with `wardprog import-wards FILE`.")


def register(app: typer.Typer) -> None:
    app.command("import-wards")(import_wards)
    app.command("start-programme")(start_programme)
    app.command()(plan)
