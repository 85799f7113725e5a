"""The `wardprog` command: a thin layer over the services and flows."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

import click
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Session
from typer.core import TyperGroup

from wardprog.cli_common import DATE, console, fail, print_json, warn
from wardprog.config import get_settings
from wardprog.db import get_engine, session_scope
from wardprog.demo.area import DEFAULT_ROOT as DEMO_ROOT
from wardprog.errors import WardprogError


class WardprogGroup(TyperGroup):
    """Every command's user errors end the same way: one line on stderr, exit 2, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WardprogError as exc:
            fail(exc)
        except (OperationalError, ProgrammingError) as exc:
            fail(_database_problem(exc))
        except OSError as exc:
            # A path the user gave that cannot be read or written (a folder, no permission).
            if exc.filename is None:
                raise
            fail(f"{exc.filename}: {exc.strerror or exc}")


def _database_problem(exc: Exception) -> str:
    from sqlalchemy.engine import make_url

    try:
        where = make_url(get_settings().database_url).render_as_string(hide_password=True)
    except Exception:
        where = "the database"
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return f"{where} has no wardprog tables yet: run `wardprog db upgrade` first ({text})"
    return f"cannot use {where}: {text} (check WARDPROG_DATABASE_URL)"


app = typer.Typer(
    cls=WardprogGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")

DEMO_START = date(2026, 1, 2)  # first working day of Q1 2026
DEMO_END = date(2026, 12, 31)

AsOf = Annotated[
    date | None,
    typer.Option("--as-of", click_type=DATE, help="Date on the programme clock (default today)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


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
    from wardprog.config import use_settings
    from wardprog.demo.area import DemoArea

    area = DemoArea(DEMO_ROOT)
    if not area.is_marked():
        fail(WardprogError(f"no demo trust in {DEMO_ROOT}/: run `wardprog demo` first"))
    # The demo's flow runs stay in its own Prefect database, as `wardprog demo` keeps them,
    # never on a server PREFECT_API_URL names (`--demo launch` must not reach production).
    configure_prefect(verbose, default_home=area.prefect_home.resolve())
    _seal_prefect(area.prefect_home)
    ctx.with_resource(use_settings(area.settings()))


@contextmanager
def _stage_progress(description: str, enabled: bool = True) -> Iterator[None]:
    """A progress bar of ward stages done while flows run (polls the database once a second).

    The flows run in this thread and commit stage by stage, so the bar is the programme's own
    record of progress, not an estimate.
    """
    from sqlalchemy import func
    from sqlmodel import select

    from wardprog.models import STAGE_ORDER, Ward, WardEnrolment

    if not enabled:
        yield
        return
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
def import_wards(
    path: Annotated[
        Path, typer.Argument(help="The ward register (.csv or .xlsx).", metavar="FILE")
    ],
    as_json: AsJson = False,
) -> None:
    """Import (or update) the ward register; all rows or none."""
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


@app.command("start-programme")
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
    from wardprog.services.programme import start_programme as start_service

    with session_scope() as session:
        programme, created = start_service(session, get_settings(), start)
        verb = "created" if created else "already exists"
        console.print(f"{programme.name} {verb}: starts {programme.start_date}")


@app.command()
def plan(
    start: Annotated[
        date, typer.Option(click_type=DATE, help="Start to plan from if no programme exists yet.")
    ] = DEMO_START,
    as_json: AsJson = False,
) -> None:
    """Print the rollout plan: which wards join which quarterly wave."""
    from sqlmodel import select

    from wardprog.models import Programme
    from wardprog.services.programme import DEFAULT_PROGRAMME, horizon_warning, rollout_plan

    settings = get_settings()
    with Session(get_engine()) as session:
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


def _pending_messages() -> int:
    from wardprog.status import notification_counts

    with Session(get_engine()) as session:
        return notification_counts(session).get("pending", 0)


def _print_pending(pending: int) -> None:
    if pending:
        console.print(
            f"{pending} message(s) wait to be sent: run `wardprog dispatch` "
            f"(the dispatch deployment sends them every 15 minutes)."
        )
    else:
        console.print("No messages wait to be sent.")


def _check_launch(as_of: date) -> None:
    from wardprog.services.programme import check_launch_date

    with Session(get_engine()) as session:
        check_launch_date(session, as_of)


@app.command()
def launch(as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Launch the wave due on AS_OF (what the quarterly deployment runs)."""
    as_of = as_of or date.today()
    _check_launch(as_of)
    from flows.launch_wave import launch_wave

    with _stage_progress("Ward stages done", enabled=not as_json):
        result = launch_wave(as_of=as_of)
    pending = _pending_messages()
    if as_json:
        print_json({"as_of": as_of, **result, "pending_messages": pending})
        return
    if result.get("wave") is None:
        console.print(f"{as_of}: every ward is already enrolled; no wave to launch.")
    else:
        table = Table(title=f"Launch as of {as_of}")
        for column in ("wave", "opened", "ward stages done", "wards waiting"):
            table.add_column(column)
        table.add_row(
            str(result["wave"]),
            "now" if result["created"] else "already open",
            str(result["done"]),
            str(result["waiting"]),
        )
        console.print(table)
    _print_pending(pending)


@app.command()
def advance(as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Move every open wave's wards on (picks up returned templates)."""
    as_of = as_of or date.today()
    from wardprog.services.programme import get_programme

    with Session(get_engine()) as session:
        get_programme(session)
    from flows.launch_wave import advance_wards
    from wardprog.models import Wave

    with _stage_progress("Ward stages done", enabled=not as_json):
        result = advance_wards(as_of=as_of)
    with Session(get_engine()) as session:
        numbers = {str(w.id): w.number for w in session.exec(_select(Wave)).all()}
    rows = [{"wave": numbers.get(wave_id, wave_id), **counts} for wave_id, counts in result.items()]
    pending = _pending_messages()
    if as_json:
        print_json({"as_of": as_of, "waves": rows, "pending_messages": pending})
        return
    if not rows:
        console.print(f"{as_of}: no wave is open; launch one with `wardprog launch`.")
    else:
        table = Table(title=f"Advance as of {as_of}")
        for column in ("wave", "ward stages done", "wards waiting"):
            table.add_column(column)
        for row in rows:
            table.add_row(str(row["wave"]), str(row["done"]), str(row["waiting"]))
        console.print(table)
    _print_pending(pending)


def _select(model: Any) -> Any:
    from sqlmodel import select

    return select(model)


@app.command()
def dispatch(
    as_of: AsOf = None,
    limit: Annotated[int, typer.Option(min=1, help="Most messages to handle in this run.")] = 1000,
    as_json: AsJson = False,
) -> None:
    """Deliver pending notifications (what the 15-minute dispatch deployment runs)."""
    as_of = as_of or date.today()
    if not _pending_messages():
        # Nothing to deliver: say so without starting a flow run (and Prefect's local API).
        if as_json:
            print_json({"as_of": as_of, "claimed": 0, "sent": 0, "retrying": 0, "dead": 0})
        else:
            console.print(f"{as_of}: no messages wait to be sent.")
        return
    from flows.notify import dispatch_notifications

    result = dispatch_notifications(as_of=as_of, limit=limit)
    pending = _pending_messages()
    if as_json:
        print_json({"as_of": as_of, **result, "pending": pending})
        return
    console.print(
        f"{as_of}: {result['sent']} sent, {result['retrying']} will retry, "
        f"{result['dead']} dead; {pending} still pending"
        + ("" if get_settings().notify_config else f" (outbox: {get_settings().outbox_dir})")
    )


@app.command()
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
def status(as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Where every ward is: waves, stages, triage, QSIR training and notifications."""
    from wardprog.models import Stage
    from wardprog.services.qsir_kpis import kpi_table, training_kpis
    from wardprog.status import (
        STATUS_DATES,
        notification_counts,
        stage_counts,
        triage_counts,
        unenrolled_wards,
        ward_statuses,
    )

    as_of = as_of or date.today()
    with Session(get_engine()) as session:
        statuses = ward_statuses(session)
        waiting = unenrolled_wards(session)
        triage = triage_counts(session)
        notes = notification_counts(session)
        kpis = training_kpis(session, as_of, get_settings().qsir_target_trained)
    counts = stage_counts(statuses)
    if as_json:
        print_json(
            {
                "as_of": as_of,
                "wards": [
                    {
                        "wave": s.wave_number,
                        "site": s.site_code,
                        "ward": s.ward_code,
                        "stage": s.stage.value,
                        **s.dates(),
                    }
                    for s in statuses
                ],
                "stages": {k.value: v for k, v in counts.items()},
                "not_yet_enrolled": waiting,
                "triage": triage,
                "qsir": kpis,
                "notifications": notes,
            }
        )
        return

    table = Table(title=f"Wards by wave and stage (dates: when each step happened; as of {as_of})")
    for col in ("wave", "site", "ward", "stage", *STATUS_DATES.values()):
        table.add_column(col)
    for s in statuses:
        colour = "green" if s.stage is Stage.complete else "yellow"
        table.add_row(
            str(s.wave_number),
            s.site_code,
            s.ward_code,
            f"[{colour}]{s.stage.value}[/{colour}]",
            *(str(d or "") for d in s.dates().values()),
        )
    console.print(table)
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
    if kpis["nominated"]:
        console.print(kpi_table(kpis))
    else:
        console.print(f"QSIR: no nominations yet; trained 0 of {kpis['target']} (target)")
    if notes:
        console.print("Notifications: " + ", ".join(f"{k} {v}" for k, v in sorted(notes.items())))


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
    from wardprog.cli_owners import register as register_owners

    register_owners(app)
    from wardprog.cli_themes import register as register_themes

    register_themes(app)
    from wardprog.cli_audit import register as register_audit

    register_audit(app)
    from wardprog.cli_evaluate import evaluate

    app.command("evaluate")(evaluate)
    from wardprog.cli_projects import register as register_projects

    register_projects(app)


_register_extensions()


if __name__ == "__main__":
    app()
