"""`wardprog venues ...` and `wardprog facilitators ...`: what engagement slots are found in."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from wardprog.cli_common import console, fail
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


@facilitators_app.command("leave")
def facilitator_leave(
    email: str,
    days: Annotated[
        list[str],
        typer.Argument(help="Dates (YYYY-MM-DD) the facilitator is away; replaces the list."),
    ],
) -> None:
    """Record a facilitator's leave so no engagement event is booked with them then."""
    from wardprog.db import session_scope
    from wardprog.services.venues import set_facilitator_leave

    try:
        dates = [date.fromisoformat(d) for d in days]
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    try:
        with session_scope() as session:
            person = set_facilitator_leave(session, email, dates)
            console.print(f"{person.email}: away on {', '.join(person.unavailable_dates)}")
    except WardprogError as exc:
        fail(exc)


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
                ", ".join(person.unavailable_dates),
            )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(venues_app, name="venues")
    app.add_typer(facilitators_app, name="facilitators")
