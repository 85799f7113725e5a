"""`wardprog events ...` and `wardprog wards preferences`: engagement events and when wards
can release staff for them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer

from wardprog.cli.actions import (
    Fields,
    Json,
    action,
    parse_date,
    parse_datetime,
    print_rows,
)

events_app = typer.Typer(
    help="Engagement events: list, reschedule, record held, cancel.", no_args_is_help=True
)
wards_app = typer.Typer(help="Ward settings.", no_args_is_help=True)

Ward = Annotated[str, typer.Argument(metavar="WARD", help="Ward code, e.g. NGH-ASH.")]
WaveNo = Annotated[int, typer.Option("--wave", help="Wave number.")]
Reason = Annotated[str, typer.Option(help="Why (goes in the update to everyone invited).")]


@events_app.command("list")
def list_events(as_json: Json = False) -> None:
    """Every engagement event, by start time (Europe/London)."""
    from sqlmodel import Session

    from wardprog.db import get_engine
    from wardprog.services.views import event_rows

    with Session(get_engine()) as session:
        rows = event_rows(session)
    print_rows(
        rows,
        ("event_id", "wave", "site_code", "ward_code", "starts_at", "venue", "status", "sequence"),
        title="Engagement events",
        as_json=as_json,
    )


@action(events_app, "reschedule", "RescheduleEvent", by_required=False)
def reschedule(
    ward: Ward,
    wave: WaveNo,
    to: Annotated[
        datetime,
        typer.Option(
            "--to", parser=parse_datetime, metavar="DATETIME", help='New start, "YYYY-MM-DD HH:MM".'
        ),
    ],
    reason: Reason,
) -> Fields:
    """Move a ward's event (the same rules as scheduling: working day, no clash)."""
    return {"ward_code": ward, "wave": wave, "to": to, "reason": reason}


@action(events_app, "held", "RecordEventHeld", by_required=False)
def held(
    ward: Ward,
    wave: WaveNo,
    held_on: Annotated[
        date,
        typer.Option("--held-on", parser=parse_date, metavar="DATE", help="The day it took place."),
    ],
    attendees: Annotated[int | None, typer.Option(help="How many staff attended.")] = None,
    name: Annotated[
        list[str] | None, typer.Option("--name", help="An attendee's name (repeat).")
    ] = None,
    facilitator: Annotated[
        str | None, typer.Option(help="Who facilitated (default: the one booked).")
    ] = None,
) -> Fields:
    """Record that a ward's event took place: the engagement stage completes, triage is chased."""
    return {
        "ward_code": ward,
        "wave": wave,
        "held_on": held_on,
        "attendees": attendees,
        "names": name or None,
        "facilitator": facilitator,
    }


@action(wards_app, "defer", "DeferWard", by_required=False)
def defer(
    ward: Ward,
    reason: Annotated[str, typer.Option(help="Why the ward cannot start (the ward is told).")],
) -> Fields:
    """Move an enrolled ward, not yet engaged, to the next wave (its event is cancelled)."""
    return {"ward_code": ward, "reason": reason}


@action(events_app, "cancel", "CancelEvent", by_required=False)
def cancel(
    ward: Ward,
    wave: WaveNo,
    reason: Reason,
) -> Fields:
    """Cancel a ward's event (METHOD:CANCEL to everyone invited)."""
    return {"ward_code": ward, "wave": wave, "reason": reason}


def _list(text: str | None) -> list[str] | None:
    return None if text is None else [p.strip().lower() for p in text.split(",") if p.strip()]


@action(wards_app, "preferences", "SetEngagementPreferences", by_required=False)
def preferences(
    ward: Ward,
    starts: Annotated[
        str | None, typer.Option(help="Start times, most preferred first: 13:30,10:00.")
    ] = None,
    avoid: Annotated[
        str | None, typer.Option(help="Weekdays the ward cannot do: mon,fri ('' = none).")
    ] = None,
    attendees: Annotated[int | None, typer.Option(help="Staff expected to attend.")] = None,
) -> Fields:
    """When a ward can release staff for its engagement event."""
    starts_list = _list(starts)
    return {
        "ward_code": ward,
        "starts": starts_list,
        "avoid": _list(avoid),
        "expected_attendees": attendees,
    }


def register(app: typer.Typer) -> None:
    app.add_typer(events_app, name="events")
    app.add_typer(wards_app, name="wards")
