"""`wardprog status` and `report`: where every ward is, on the console and as a dashboard."""

from __future__ import annotations

from datetime import date

import typer
from rich.table import Table

from wardprog.cli.common import AsJson, AsOf, console, print_json


def report(as_of: AsOf = None) -> None:
    """Write the programme dashboard (HTML) to the output folder."""
    from sqlmodel import Session

    from wardprog.config import get_settings
    from wardprog.db import get_engine
    from wardprog.reports.dashboard import write_dashboard

    settings = get_settings()
    with Session(get_engine()) as session:
        path = write_dashboard(session, settings, as_of or date.today())
    console.print(f"dashboard: {path}")


def status(as_of: AsOf = None, as_json: AsJson = False) -> None:
    """Where every ward is: waves, stages, triage, QSIR training and notifications."""
    from sqlmodel import Session

    from wardprog.config import get_settings
    from wardprog.db import get_engine
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


def register(app: typer.Typer) -> None:
    app.command()(report)
    app.command()(status)
