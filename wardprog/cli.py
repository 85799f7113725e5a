"""The `wardprog` command: a thin layer over the services and flows."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session

from wardprog.cli_common import console, fail
from wardprog.config import get_settings
from wardprog.db import get_engine, session_scope
from wardprog.demo.area import DEFAULT_ROOT as DEMO_ROOT
from wardprog.errors import WardprogError

app = typer.Typer(help="Run the ward improvement programme.", no_args_is_help=True)


@app.callback()
def main(
    ctx: typer.Context,
    demo_trust: Annotated[
        bool,
        typer.Option(
            "--demo", help="Act on the demo trust's own database and folders (var/demo/)."
        ),
    ] = False,
) -> None:
    """Run the ward improvement programme."""
    if demo_trust:
        from wardprog.config import use_settings
        from wardprog.demo.area import DemoArea

        area = DemoArea(DEMO_ROOT)
        if not area.is_marked():
            fail(WardprogError(f"no demo trust in {DEMO_ROOT}/: run `wardprog demo` first"))
        ctx.with_resource(use_settings(area.settings()))


db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")

DEMO_START = date(2026, 1, 2)  # first working day of Q1 2026
DEMO_END = date(2026, 12, 31)

AsOf = Annotated[
    date | None,
    typer.Option(
        "--as-of", formats=["%Y-%m-%d"], help="Date on the programme clock (default today)."
    ),
]


@contextmanager
def _stage_progress(description: str) -> Iterator[None]:
    """A progress bar of ward stages done while flows run (polls the database once a second).

    The flows run in this thread and commit stage by stage, so the bar is the programme's own
    record of progress, not an estimate.
    """
    from sqlalchemy import func
    from sqlmodel import select

    from wardprog.models import STAGE_ORDER, Ward, WardEnrolment

    engine = get_engine()
    done = threading.Event()

    def measure() -> tuple[int, int]:
        with Session(engine) as session:
            wards = session.exec(select(func.count()).select_from(Ward)).one()
            stages = session.exec(select(WardEnrolment.stage)).all()
        # enrolled = 0 stages done ... complete = all four
        return sum(min(STAGE_ORDER.index(s), 4) for s in stages), 4 * wards

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        current, total = measure()
        task = progress.add_task(description, total=total or None, completed=current)

        def poll() -> None:
            while not done.wait(1.0):
                try:
                    current, total = measure()
                except Exception:
                    continue
                progress.update(task, completed=current, total=total)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        try:
            yield
        finally:
            done.set()
            poller.join()
            current, total = measure()
            progress.update(task, completed=current, total=total)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations to WARDPROG_DATABASE_URL."""
    from wardprog.migrate import upgrade
    from wardprog.services.installation import claim_production

    upgrade(get_settings().database_url, revision)
    with session_scope() as session:
        claim_production(session, "wardprog db upgrade")
    console.print(f"database at revision {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision."""
    from wardprog.migrate import current

    console.print(current(get_settings().database_url) or "(empty database)")


@app.command("import-wards")
def import_wards(path: Path) -> None:
    """Import (or update) the ward register (CSV or .xlsx); all rows or none."""
    from wardprog.services.installation import claim_production
    from wardprog.services.register import import_register

    try:
        with session_scope() as session:
            claim_production(session, "wardprog import-wards")
            result = import_register(session, path)
    except WardprogError as exc:
        fail(exc)
    console.print(
        f"sites added {result.sites_added}, wards added {result.wards_added}, "
        f"wards updated {result.wards_updated}"
    )


@app.command("start-programme")
def start_programme(
    start: Annotated[date, typer.Option(formats=["%Y-%m-%d"])] = DEMO_START,
) -> None:
    """Create the programme (first wave in the quarter containing START)."""
    from wardprog.services.programme import ensure_programme

    with session_scope() as session:
        programme = ensure_programme(session, get_settings(), start)
        console.print(f"{programme.name}: starts {programme.start_date}")


@app.command()
def plan(
    start: Annotated[
        date, typer.Option(formats=["%Y-%m-%d"], help="If no programme exists yet.")
    ] = DEMO_START,
) -> None:
    """Print the rollout plan: which wards join which quarterly wave."""
    from wardprog.models import Programme
    from wardprog.services.programme import DEFAULT_PROGRAMME, rollout_plan

    settings = get_settings()
    with Session(get_engine()) as session:
        from sqlmodel import select

        programme = session.exec(
            select(Programme).where(Programme.name == DEFAULT_PROGRAMME)
        ).first()
        if programme is None:
            programme = Programme(
                name=DEFAULT_PROGRAMME,
                start_date=start,
                wards_per_site_per_wave=settings.wards_per_site_per_wave,
                wave_length_months=settings.wave_length_months,
            )
        waves = rollout_plan(session, programme)
    table = Table(title="Rollout plan")
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


@app.command()
def launch(as_of: AsOf = None, simulate_staff: bool = False) -> None:
    """Launch the wave due on AS_OF (what the quarterly deployment runs)."""
    from flows.launch_wave import launch_wave

    with _stage_progress("Ward stages done"):
        result = launch_wave(as_of=as_of, simulate_staff=simulate_staff)
    console.print(result)


@app.command()
def advance(as_of: AsOf = None, simulate_staff: bool = False) -> None:
    """Move every open wave's wards on (picks up returned templates)."""
    from flows.launch_wave import advance_wards

    with _stage_progress("Ward stages done"):
        result = advance_wards(as_of=as_of, simulate_staff=simulate_staff)
    console.print(result)


@app.command()
def demo(
    fresh: Annotated[
        bool, typer.Option(help="Delete the demo's own folder (database, outputs) first.")
    ] = False,
    start: Annotated[date, typer.Option(formats=["%Y-%m-%d"])] = DEMO_START,
    end: Annotated[date, typer.Option(formats=["%Y-%m-%d"])] = DEMO_END,
    folder: Annotated[
        Path, typer.Option("--dir", help="The demo's own folder (created and marked by the demo).")
    ] = DEMO_ROOT,
) -> None:
    """Replay the whole 60-ward programme on the demo trust, end to end, in its own folder.

    The demo never touches a real deployment: WARDPROG_* settings are ignored, everything is
    written under --dir (default var/demo/), messages go to its local outbox only.
    """
    from wardprog.config import use_settings
    from wardprog.demo.area import DemoArea, ignored_environment
    from wardprog.demo.runner import prepare_demo, run_demo

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
    _seal_prefect(area.prefect_home)
    with use_settings(area.settings()) as settings:
        try:
            with console.status("Preparing the demo trust (register, staff, 3 years of extracts)"):
                prepare_demo(settings, start, end)
            console.print(f"Replaying the programme {start} to {end} with Prefect flows")
            with _stage_progress("Ward stages done"):
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

    from wardprog.models import Ward
    from wardprog.web.links import ward_page_link

    with session_scope() as session:
        first = session.exec(select(Ward.code).order_by(col(Ward.code))).first()
        return ward_page_link(session, get_settings(), first) if first else None


def _seal_prefect(home: Path) -> None:
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


@app.command()
def report(as_of: AsOf = None) -> None:
    """Write the programme dashboard (HTML) to the output folder."""
    from wardprog.reports.dashboard import write_dashboard

    settings = get_settings()
    with Session(get_engine()) as session:
        path = write_dashboard(session, settings, as_of or date.today())
    console.print(f"dashboard: {path}")


@app.command()
def status(as_of: AsOf = None) -> None:
    """Where every ward is: waves, stages, triage, QSIR training and notifications."""
    from wardprog.models import Stage
    from wardprog.status import (
        notification_counts,
        stage_counts,
        triage_counts,
        unenrolled_wards,
        ward_statuses,
    )

    with Session(get_engine()) as session:
        statuses = ward_statuses(session)
        waiting = unenrolled_wards(session)
        triage = triage_counts(session)
        notes = notification_counts(session)
        kpis = _qsir_kpis(session, as_of or date.today())

    table = Table(title="Wards by wave and stage")
    for col in ("wave", "site", "ward", "stage", "diagnostic", "engagement", "triage", "qsir"):
        table.add_column(col)
    for s in statuses:
        colour = "green" if s.stage is Stage.complete else "yellow"
        table.add_row(
            str(s.wave_number),
            s.site_code,
            s.ward_code,
            f"[{colour}]{s.stage.value}[/{colour}]",
            *(str(d or "") for d in (s.diagnostic, s.engagement, s.triage, s.qsir)),
        )
    console.print(table)
    counts = stage_counts(statuses)
    console.print(
        "Stages: "
        + ", ".join(f"{k.value} {v}" for k, v in counts.items() if v)
        + f"; not yet enrolled {waiting}"
    )
    if triage:
        console.print(
            "Triage: "
            + ", ".join(
                f"{cat} {sum(v.values())} ({v.get('open', 0)} open)"
                for cat, v in sorted(triage.items())
            )
        )
    if kpis is not None:
        console.print(kpis)
    if notes:
        console.print("Notifications: " + ", ".join(f"{k} {v}" for k, v in sorted(notes.items())))


def _qsir_kpis(session: Session, as_of: date):  # type: ignore[no-untyped-def]
    from wardprog.services.qsir_kpis import kpi_table, training_kpis

    return kpi_table(training_kpis(session, as_of, get_settings().qsir_target_trained))


def _register_extensions() -> None:
    from wardprog.cli_diagnostics import register as register_diagnostics

    register_diagnostics(app)
    from wardprog.cli_resources import register as register_resources

    register_resources(app)
    from wardprog.cli_web import register as register_web

    register_web(app)
    from wardprog.cli_items import register as register_items

    register_items(app)
    from wardprog.cli_qsir import register as register_qsir

    register_qsir(app)
    from wardprog.cli_events import register as register_events

    register_events(app)
    from wardprog.cli_audit import register as register_audit

    register_audit(app)
    from wardprog.cli_evaluate import evaluate

    app.command("evaluate")(evaluate)


_register_extensions()


if __name__ == "__main__":
    app()
