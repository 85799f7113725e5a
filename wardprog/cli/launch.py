"""`wardprog launch`, `advance` and `dispatch`: what the deployments run, run by hand."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any

import typer
from rich.table import Table

from wardprog.cli.common import AsJson, AsOf, console, print_json


@contextmanager
def stage_progress(description: str, enabled: bool = True) -> Iterator[None]:
    """A progress bar of ward stages done while flows run (polls the database once a second).

    The flows run in this thread and commit stage by stage, so the bar is the programme's own
    record of progress, not an estimate.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from sqlalchemy import func
    from sqlmodel import Session, select

    from wardprog.db import get_engine
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


def _pending_messages() -> int:
    from sqlmodel import Session

    from wardprog.db import get_engine
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
    from sqlmodel import Session

    from wardprog.db import get_engine
    from wardprog.services.programme import check_launch_date

    with Session(get_engine()) as session:
        check_launch_date(session, as_of)


def launch(as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Launch the wave due on AS_OF (what the quarterly deployment runs)."""
    as_of = as_of or date.today()
    _check_launch(as_of)
    from flows.launch_wave import launch_wave

    with stage_progress("Ward stages done", enabled=not as_json):
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


def advance(as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Move every open wave's wards on (picks up returned templates)."""
    as_of = as_of or date.today()
    from sqlmodel import Session

    from wardprog.db import get_engine
    from wardprog.services.programme import get_programme

    with Session(get_engine()) as session:
        get_programme(session)
    from flows.launch_wave import advance_wards
    from wardprog.models import Wave

    with stage_progress("Ward stages done", enabled=not as_json):
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


def dispatch(
    as_of: AsOf = None,
    limit: Annotated[int, typer.Option(min=1, help="Most messages to handle in this run.")] = 1000,
    as_json: AsJson = False,
) -> None:
    """Deliver pending notifications (what the 15-minute dispatch deployment runs)."""
    from wardprog.config import get_settings

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


def register(app: typer.Typer) -> None:
    app.command()(launch)
    app.command()(advance)
    app.command()(dispatch)
