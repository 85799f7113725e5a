"""The venues and facilitators register.

Rooms belong to a site (education-centre seminar rooms, the ward's own day room); facilitators
are the central improvement team and travel between sites. Nothing is invented when none are
registered: the engagement stage waits and tells the team what to register (a booking with a
made-up room or person would send real ward managers to a meeting that does not exist).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlmodel import Session, select

from wardprog.errors import WardprogError
from wardprog.models import Site
from wardprog.models.engagement import Facilitator, Venue


class RegisterError(WardprogError):
    """A venue or facilitator entry is invalid."""


def register_venue(session: Session, site: Site, name: str, capacity: int) -> Venue:
    """Add (or update the capacity of) a room on ``site``; re-registering is harmless."""
    if capacity < 1:
        raise RegisterError(f"Venue {name!r}: capacity must be at least 1, got {capacity}")
    name = name.strip()
    if not name:
        raise RegisterError("Venue name must not be empty")
    venue = session.exec(select(Venue).where(Venue.site_id == site.id, Venue.name == name)).first()
    if venue is None:
        venue = Venue(site_id=site.id, name=name, capacity=capacity)  # type: ignore[arg-type]
        session.add(venue)
    else:
        venue.capacity = capacity
        venue.active = True
    session.flush()
    return venue


def register_facilitator(
    session: Session, name: str, email: str, working_days: Sequence[int] = (0, 1, 2, 3, 4)
) -> Facilitator:
    """Add or update an improvement-team facilitator, identified by email."""
    email = email.strip().lower()
    if "@" not in email:
        raise RegisterError(f"Facilitator {name!r}: {email!r} is not an email address")
    bad = [d for d in working_days if d not in range(7)]
    if bad or not working_days:
        raise RegisterError(
            f"Facilitator {name!r}: working days must be weekday numbers 0 (Mon)..6 (Sun), "
            f"got {list(working_days)}"
        )
    person = session.exec(select(Facilitator).where(Facilitator.email == email)).first()
    if person is None:
        person = Facilitator(name=name.strip(), email=email, working_days=sorted(set(working_days)))
        session.add(person)
    else:
        person.name = name.strip()
        person.working_days = sorted(set(working_days))
        person.active = True
    session.flush()
    return person


def set_facilitator_leave(session: Session, email: str, days: Iterable[date]) -> Facilitator:
    """Replace a facilitator's unavailable dates (leave, study days); slots avoid them."""
    person = session.exec(
        select(Facilitator).where(Facilitator.email == email.strip().lower())
    ).first()
    if person is None:
        raise RegisterError(f"No facilitator registered with email {email!r}")
    person.unavailable_dates = sorted({d.isoformat() for d in days})
    session.add(person)
    session.flush()
    return person


def site_resources(session: Session, site: Site) -> tuple[list[Venue], list[Facilitator]]:
    """Active rooms on ``site`` and active facilitators, in registration order."""
    venues = session.exec(
        select(Venue).where(Venue.site_id == site.id, Venue.active == True)  # noqa: E712
    ).all()
    facilitators = session.exec(
        select(Facilitator).where(Facilitator.active == True)  # noqa: E712
    ).all()
    return sorted(venues, key=lambda v: v.id or 0), sorted(facilitators, key=lambda f: f.id or 0)
