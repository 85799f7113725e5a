"""The venues and facilitators register.

Rooms belong to a site (education-centre seminar rooms, the ward's own day room); facilitators
are the central improvement team and travel between sites. Nothing is invented when none are
registered: the engagement stage waits and tells the team what to register (a booking with a
made-up room or person would send real ward managers to a meeting that does not exist).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from sqlmodel import Session, select

from wardprog.errors import NotFoundError, WardprogError
from wardprog.models import Site
from wardprog.models.engagement import Facilitator, Venue
from wardprog.rules.slots import EVENT_WEEKDAYS, WEEKDAY_NAMES
from wardprog.services.context import require_id


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
        venue = Venue(site_id=require_id(site), name=name, capacity=capacity)
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
    outside = sorted(set(working_days) - EVENT_WEEKDAYS)
    if outside:
        raise RegisterError(
            f"Facilitator {name!r}: engagement events are never held on "
            f"{', '.join(WEEKDAY_NAMES[d] for d in outside)}; working days must be among "
            f"{', '.join(WEEKDAY_NAMES[d] for d in sorted(EVENT_WEEKDAYS))}"
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


def _facilitator(session: Session, email: str) -> Facilitator:
    person = session.exec(
        select(Facilitator).where(Facilitator.email == email.strip().lower())
    ).first()
    if person is None:
        raise NotFoundError(f"no facilitator registered with email {email!r}")
    return person


def set_facilitator_leave(session: Session, email: str, days: Iterable[date]) -> Facilitator:
    """Replace a facilitator's unavailable dates (leave, study days); slots avoid them."""
    person = _facilitator(session, email)
    person.unavailable_dates = sorted({d.isoformat() for d in days})
    session.add(person)
    session.flush()
    return person


def _days(first: date, last: date) -> set[str]:
    if last < first:
        raise RegisterError(f"leave to {last} is before leave from {first}")
    return {(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)}


def add_facilitator_leave(session: Session, email: str, first: date, last: date) -> Facilitator:
    """Add ``first``..``last`` (inclusive) to a facilitator's leave; earlier leave stays."""
    person = _facilitator(session, email)
    person.unavailable_dates = sorted(set(person.unavailable_dates) | _days(first, last))
    session.add(person)
    session.flush()
    return person


def remove_facilitator_leave(
    session: Session, email: str, first: date, last: date
) -> tuple[Facilitator, int]:
    """Take ``first``..``last`` off a facilitator's leave; returns how many days were removed."""
    person = _facilitator(session, email)
    before = set(person.unavailable_dates)
    person.unavailable_dates = sorted(before - _days(first, last))
    session.add(person)
    session.flush()
    return person, len(before) - len(person.unavailable_dates)


def leave_ranges(days: Iterable[str]) -> list[tuple[date, date]]:
    """Leave days folded into runs of consecutive dates, as a person books them."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(date.fromisoformat(d) for d in set(days)):
        if ranges and day - ranges[-1][1] == timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def active_venues(session: Session, site: Site) -> list[Venue]:
    """Active rooms on ``site``, in registration order."""
    venues = session.exec(
        select(Venue).where(Venue.site_id == site.id, Venue.active == True)  # noqa: E712
    ).all()
    return sorted(venues, key=lambda v: v.id or 0)


def active_facilitators(session: Session) -> list[Facilitator]:
    """Active facilitators (they work across the trust's sites), in registration order."""
    facilitators = session.exec(
        select(Facilitator).where(Facilitator.active == True)  # noqa: E712
    ).all()
    return sorted(facilitators, key=lambda f: f.id or 0)
