"""The demo trust's improvement team and rooms, registered as a coordinator would register them.

A real deployment registers its own (``wardprog venues add``, ``wardprog facilitators add``);
nothing here is ever seeded into one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from wardprog.models import Site
from wardprog.services.venues import register_facilitator, register_venue

# Two rooms per site: a seminar room for a full ward team and a smaller meeting room.
DEMO_ROOMS: tuple[tuple[str, int], ...] = (
    ("Education Centre Seminar Room", 24),
    ("Clinical Skills Meeting Room", 14),
)


@dataclass(frozen=True)
class DemoFacilitator:
    name: str
    email: str
    working_days: tuple[int, ...]


# Two full-time QI leads and a part-time facilitator (Mon-Wed).
DEMO_FACILITATORS: tuple[DemoFacilitator, ...] = (
    DemoFacilitator("Priya Raman", "priya.raman@trust.example", (0, 1, 2, 3, 4)),
    DemoFacilitator("Tom Adeyemi", "tom.adeyemi@trust.example", (0, 1, 2, 3, 4)),
    DemoFacilitator("Grace O'Neill", "grace.oneill@trust.example", (0, 1, 2)),
)


def register_demo_team(session: Session) -> None:
    """Rooms on every site and the three facilitators; re-registering is harmless."""
    for site in session.exec(select(Site).order_by(Site.code)).all():
        for room, capacity in DEMO_ROOMS:
            register_venue(session, site, f"{site.name} {room}", capacity)
    for person in DEMO_FACILITATORS:
        register_facilitator(session, person.name, person.email, person.working_days)
