"""`wardprog staff import` and `wardprog qsir ...`: the staff register and QSIR delegates."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from wardprog.cli.actions import (
    By,
    Email,
    Fields,
    Json,
    act,
    action,
    parse_date,
    print_rows,
)
from wardprog.cli.common import fail
from wardprog.errors import WardprogError

staff_app = typer.Typer(help="The staff register (ESR extract).", no_args_is_help=True)
qsir_app = typer.Typer(help="QSIR registers, projects and nominees.", no_args_is_help=True)

StaffNo = Annotated[str, typer.Argument(metavar="STAFF_NO", help="ESR staff number.")]
Reason = Annotated[str, typer.Option(help="Why (the nominee and their manager are told).")]


@action(staff_app, "import", "ImportStaff", by_required=False)
def import_staff(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="ESR-style extract, .csv or .xlsx.")],
) -> Fields:
    """Import (or update) staff by staff number; all rows or none."""
    return {"path": path}


def _split(values: list[str]) -> list[str]:
    """`--present A --present B` or `--present A,B`: both work."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@qsir_app.command("register")
def take_register(
    cohort: Annotated[str, typer.Argument(help="Cohort code, e.g. QSIR-P-2026-Q2.")],
    session_date: Annotated[
        date, typer.Argument(parser=parse_date, metavar="DATE", help="The teaching day.")
    ],
    by: By,
    present: Annotated[
        list[str] | None,
        typer.Option("--present", help="Staff numbers present (repeat, or comma-separated)."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Register sheet: staff_number[, attended yes/no]."),
    ] = None,
    email: Email = "",
    as_json: Json = False,
) -> None:
    """Take a teaching day's register (everyone not --present is recorded absent)."""
    from wardprog.commands import TakeRegister

    if (present is None) == (file is None):
        fail(WardprogError("give either --present STAFF_NO... or --file REGISTER.csv"))
    absent: list[str] | None = None
    if file is not None:
        from wardprog.services.qsir_register import read_register_file

        try:
            numbers, absent = read_register_file(file)
        except WardprogError as exc:
            fail(exc)
    else:
        numbers = _split(present or [])
    act(
        TakeRegister,
        by,
        email,
        session_date,
        as_json,
        cohort=cohort,
        session_date=session_date,
        present=numbers,
        absent=absent,
    )


@action(qsir_app, "nominate", "NominateStaff")
def nominate(
    ward: Annotated[str, typer.Argument(help="Ward code.")],
    staff_numbers: Annotated[
        list[str], typer.Argument(metavar="STAFF_NO...", help="Staff from the ward's register.")
    ],
    course: Annotated[
        str, typer.Option(help="practitioner (five days) or fundamentals (one day).")
    ] = "practitioner",
) -> Fields:
    """Nominate ward staff for QSIR (approved by --by); cohorts are booked by the QSIR stage."""
    return {"ward_code": ward, "staff_numbers": _split(staff_numbers), "course": course}


@action(qsir_app, "presented", "RecordPresentation")
def presented(
    staff_number: StaffNo,
    on: Annotated[
        date, typer.Option("--on", parser=parse_date, metavar="DATE", help="Day presented.")
    ],
) -> Fields:
    """Record that a nominee presented their improvement project."""
    return {"staff_number": staff_number}


@qsir_app.command("projects")
def projects(as_json: Json = False) -> None:
    """Each nominee's course project: the improve item it works on and its latest IHI score."""
    from sqlmodel import Session

    from wardprog.db import get_engine
    from wardprog.services.views import qsir_project_rows

    with Session(get_engine()) as session:
        rows = qsir_project_rows(session)
    cols = (
        "ward_code",
        "staff_number",
        "name",
        "status",
        "project_item_id",
        "ihi_score",
        "project",
    )
    print_rows(rows, cols, title="QSIR projects", as_json=as_json)


@action(qsir_app, "project", "LinkProject")
def project(
    staff_number: StaffNo,
    item_id: Annotated[int, typer.Argument(metavar="ITEM", help="The ward's improve item id.")],
) -> Fields:
    """Link a nominee's course project to the ward's improve item it works on."""
    return {"staff_number": staff_number, "item_id": item_id}


@action(qsir_app, "withdraw", "WithdrawNominee")
def withdraw(
    staff_number: StaffNo,
    reason: Reason,
) -> Fields:
    """The nominee will not do the course; their seat is released."""
    return {"staff_number": staff_number, "reason": reason}


@action(qsir_app, "defer", "DeferNominee")
def defer(
    staff_number: StaffNo,
    reason: Reason,
) -> Fields:
    """The nominee will do the course later; their seat is released."""
    return {"staff_number": staff_number, "reason": reason}


@action(qsir_app, "requeue", "RequeueNominee", by_required=False)
def requeue(
    staff_number: StaffNo,
) -> Fields:
    """Put a deferred nominee back in the queue for the next cohort."""
    return {"staff_number": staff_number}


def register(app: typer.Typer) -> None:
    app.add_typer(staff_app, name="staff")
    app.add_typer(qsir_app, name="qsir")
