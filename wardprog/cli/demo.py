"""`wardprog demo`: replay the 60-ward programme on the demo trust, in its own folder."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from wardprog.cli.common import DATE, console, fail
from wardprog.demo import DEFAULT_ROOT as DEMO_ROOT
from wardprog.errors import WardprogError

DEMO_START = date(2026, 1, 2)  # first working day of Q1 2026
DEMO_END = date(2026, 12, 31)


def demo(
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Delete the demo's own folder (database, outputs) first."),
    ] = False,
    start: Annotated[date, typer.Option(click_type=DATE, help="First day of the replay.")] = (
        DEMO_START
    ),
    end: Annotated[date, typer.Option(click_type=DATE, help="Last day of the replay.")] = DEMO_END,
    folder: Annotated[
        Path, typer.Option("--dir", help="The demo's own folder (created and marked by the demo).")
    ] = DEMO_ROOT,
) -> None:
    """Replay the whole 60-ward programme on the demo trust, end to end, in its own folder.

    The demo never touches a real deployment: WARDPROG_* settings are ignored, everything is
    written under --dir (default var/demo/), messages go to its local outbox only.
    """
    from wardprog.cli.launch import stage_progress
    from wardprog.cli.status import status
    from wardprog.config import use_settings
    from wardprog.demo.area import DemoArea, ignored_environment
    from wardprog.demo.runner import prepare_demo, run_demo

    if end < start:
        fail(f"--end {end} is before --start {start}")
    area = DemoArea(folder)
    ignored = ignored_environment()
    if ignored:
        console.print(
            f"The demo ignores {', '.join(ignored)}: it writes only under {folder}/ "
            "(its own database, folders and local outbox)."
        )
    try:
        if fresh:
            area.wipe()
        area.create()
    except WardprogError as exc:
        fail(exc)
    seal_prefect(area.prefect_home)
    with use_settings(area.settings()) as settings:
        try:
            with console.status("Preparing the demo trust (register, staff, 3 years of extracts)"):
                prepare_demo(settings, start, end)
            console.print(f"Replaying the programme {start} to {end} with Prefect flows")
            with stage_progress("Ward stages done"):
                run_demo(start, end)
        except WardprogError as exc:
            fail(exc)
        status(as_of=end)
        link = _demo_ward_link()
    console.print(
        f"Reports and outbox: {settings.output_dir}/   Database: {settings.database_url}\n"
        "Other commands act on the demo with --demo, e.g. `wardprog --demo status`."
    )
    if link:
        console.print(
            f"A ward's page: run `.venv/bin/wardprog --demo web --as-of {end}` and open",
            highlight=False,
        )
        print(link)


def _demo_ward_link() -> str | None:
    """A link to the first demo ward's page, signed for its manager (the demo's own key)."""
    from sqlmodel import col, select

    from wardprog.config import get_settings
    from wardprog.db import session_scope
    from wardprog.models import Ward
    from wardprog.web.links import ward_page_link

    with session_scope() as session:
        first = session.exec(select(Ward.code).order_by(col(Ward.code))).first()
        return ward_page_link(session, get_settings(), first) if first else None


def seal_prefect(home: Path) -> None:
    """The demo's flow runs go to its own local Prefect database, never a configured server.

    Prefect reads its settings when first imported; in a process that already imported it
    (a test harness), the caller's Prefect configuration stands.
    """
    import sys

    if "prefect" in sys.modules:
        return
    home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home.resolve())
    os.environ.pop("PREFECT_API_URL", None)
    os.environ.pop("PREFECT_API_KEY", None)


def register(app: typer.Typer) -> None:
    app.command()(demo)
