"""`wardprog status` and `report`: where every ward is, on the console and as a dashboard."""

from __future__ import annotations

import typer
from rich.table import Table

from wardprog.cli.common import AsJson, AsOf, console, print_json


def report(as_of: AsOf = None) -> None:
    """Write the programme dashboard (HTML) to the output folder."""
    from sqlmodel import Session

    from wardprog.config import get_settings
    from wardprog.db import get_engine
    from wardprog.queries import report_date
    from wardprog.reports.dashboard import write_dashboard

    settings = get_settings()
    with Session(get_engine()) as session:
        as_of, said = report_date(session, settings, as_of)
        path = write_dashboard(session, settings, as_of)
    console.print(f"The programme as of {said}.")
    console.print(f"dashboard: {path}")


def status(as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Where every ward is: waves, stages, triage, QSIR training and notifications."""
    from sqlmodel import Session

    from wardprog.config import get_settings
    from wardprog.db import get_engine
    from wardprog.models import Stage
    from wardprog.queries import STATUS_DATES, programme_status, report_date
    from wardprog.services.qsir_kpis import kpi_table

    with Session(get_engine()) as session:
        as_of, said = report_date(session, get_settings(), as_of)
        figures = programme_status(session, get_settings(), as_of)
    if as_json:
        print_json(figures)
        return
    wards, counts, waiting = figures["wards"], figures["stages"], figures["not_yet_enrolled"]
    triage, kpis, notes = figures["triage"], figures["qsir"], figures["notifications"]

    table = Table(title=f"Wards by wave and stage (dates: when each step happened; as of {said})")
    for col in ("wave", "site", "ward", "stage", *STATUS_DATES.values()):
        table.add_column(col)
    for w in wards:
        colour = "green" if w["stage"] == Stage.complete.value else "yellow"
        table.add_row(
            str(w["wave"]),
            w["site"],
            w["ward"],
            f"[{colour}]{w['stage']}[/{colour}]",
            *(str(w[label] or "") for label in STATUS_DATES.values()),
        )
    console.print(table)
    console.print(
        "Stages: "
        + ", ".join(f"{k} {v}" for k, v in counts.items() if v)
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


def register(app: typer.Typer) -> None:
    app.command()(report)
    app.command()(status)
