"""`wardprog venues ...` and `wardprog facilitators ...`: what engagement slots are found in."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from wardprog.cli.common import DATE, console, fail
from wardprog.errors import NotFoundError, WardprogError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

venues_app = typer.Typer(help="Rooms per site for engagement events.", no_args_is_help=True)
facilitators_app = typer.Typer(
    help="Improvement-team facilitators, their working days and leave.", no_args_is_help=True
)


@venues_app.command("add")
def add_venue(
    site: Annotated[str, typer.Option(help="Site code, e.g. NGH.")],
    name: Annotated[str, typer.Option(help="Room name.")],
    capacity: Annotated[int, typer.Option(help="Seats.")] = 20,
) -> None:
    """Register a room on a site (or update its capacity)."""
    from sqlmodel import select

    from wardprog.db import session_scope
    from wardprog.models import Site
    from wardprog.services.venues import register_venue

    try:
        with session_scope() as session:
            found = session.exec(select(Site).where(Site.code == site)).first()
            if found is None:
                raise NotFoundError(f"no site with code {site!r}; import the ward register first")
            venue = register_venue(session, found, name, capacity)
            console.print(f"{site}: {venue.name} ({venue.capacity} seats)")
    except WardprogError as exc:
        fail(exc)


@venues_app.command("list")
def list_venues() -> None:
    """Every room by site."""
    from sqlmodel import Session, col, select

    from wardprog.db import get_engine
    from wardprog.models import Site, Venue

    table = Table(title="Venues")
    for column in ("site", "room", "capacity", "active"):
        table.add_column(column)
    with Session(get_engine()) as session:
        rows = session.exec(
            select(Venue, Site).where(Venue.site_id == Site.id).order_by(col(Site.code))
        ).all()
        for venue, site in rows:
            table.add_row(
                site.code, venue.name, str(venue.capacity), "yes" if venue.active else "no"
            )
    console.print(table)


def _weekdays(text: str) -> tuple[int, ...]:
    days = []
    for part in text.lower().split(","):
        part = part.strip()[:3]
        if part not in WEEKDAYS:
            raise typer.BadParameter(f"{part!r} is not a weekday (use e.g. mon,tue,wed)")
        days.append(WEEKDAYS.index(part))
    return tuple(sorted(set(days)))


@facilitators_app.command("add")
def add_facilitator(
    name: str,
    email: str,
    days: Annotated[
        str, typer.Option(help="Working days, e.g. mon,tue,thu.")
    ] = "mon,tue,wed,thu,fri",
) -> None:
    """Register (or update) a facilitator by email."""
    from wardprog.db import session_scope
    from wardprog.services.venues import register_facilitator

    try:
        with session_scope() as session:
            person = register_facilitator(session, name, email, _weekdays(days))
            console.print(f"{person.name} <{person.email}>")
    except WardprogError as exc:
        fail(exc)


leave_app = typer.Typer(
    help="A facilitator's leave (annual leave, study days): no event is booked with them then.",
    no_args_is_help=True,
)
FromDate = Annotated[
    date, typer.Option("--from", click_type=DATE, help="First day away (YYYY-MM-DD).")
]
ToDate = Annotated[
    date | None,
    typer.Option("--to", click_type=DATE, help="Last day away, inclusive (default: --from)."),
]


def _ranges(days: list[str]) -> str:
    from wardprog.services.venues import leave_ranges

    return (
        ", ".join(str(a) if a == b else f"{a} to {b}" for a, b in leave_ranges(days)) or "no leave"
    )


@leave_app.command("add")
def leave_add(email: str, first: FromDate, last: ToDate = None) -> None:
    """Add leave from --from to --to (inclusive); leave already recorded is kept."""
    from wardprog.db import session_scope
    from wardprog.services.venues import add_facilitator_leave

    with session_scope() as session:
        person = add_facilitator_leave(session, email, first, last or first)
        console.print(f"{person.email}: away {_ranges(person.unavailable_dates)}")


@leave_app.command("remove")
def leave_remove(email: str, first: FromDate, last: ToDate = None) -> None:
    """Take the days from --from to --to off a facilitator's leave."""
    from wardprog.db import session_scope
    from wardprog.services.venues import remove_facilitator_leave

    with session_scope() as session:
        person, removed = remove_facilitator_leave(session, email, first, last or first)
        console.print(
            f"{person.email}: {removed} day(s) removed; away {_ranges(person.unavailable_dates)}"
        )


@leave_app.command("list")
def leave_list(
    email: Annotated[str | None, typer.Argument(help="One facilitator (default: all).")] = None,
) -> None:
    """Leave per facilitator, as date ranges."""
    from sqlmodel import Session, col, select

    from wardprog.db import get_engine
    from wardprog.models import Facilitator
    from wardprog.services.venues import leave_ranges

    table = Table(title="Facilitator leave")
    for column in ("facilitator", "from", "to", "days"):
        table.add_column(column)
    with Session(get_engine()) as session:
        query = select(Facilitator).order_by(col(Facilitator.name))
        if email is not None:
            query = query.where(Facilitator.email == email.strip().lower())
        people = session.exec(query).all()
        if email is not None and not people:
            raise NotFoundError(f"no facilitator registered with email {email!r}")
        for person in people:
            for first, last in leave_ranges(person.unavailable_dates):
                table.add_row(person.email, str(first), str(last), str((last - first).days + 1))
    console.print(table)


@facilitators_app.command("list")
def list_facilitators() -> None:
    """Every facilitator with working days and leave."""
    from sqlmodel import Session, col, select

    from wardprog.db import get_engine
    from wardprog.models import Facilitator

    table = Table(title="Facilitators")
    for column in ("name", "email", "working days", "leave"):
        table.add_column(column)
    with Session(get_engine()) as session:
        for person in session.exec(select(Facilitator).order_by(col(Facilitator.name))).all():
            table.add_row(
                person.name,
                person.email,
                ",".join(WEEKDAYS[d] for d in person.working_days),
                _ranges(person.unavailable_dates),
            )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(venues_app, name="venues")
    facilitators_app.add_typer(leave_app, name="leave")
    app.add_typer(facilitators_app, name="facilitators")
