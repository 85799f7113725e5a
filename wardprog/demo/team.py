"""The demo trust's improvement team and rooms, registered as a coordinator would register them.

A real deployment registers its own (``wardprog venues add``, ``wardprog facilitators add``);
nothing here is ever seeded into one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.engine import Engine
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


def demo_owners_path() -> Path:
    """The demo trust's owners register: a matron per site and directorate, three clinical
    directors and the Chief Nurse (who the escalation ladder climbs to)."""
    return Path(__file__).resolve().parent / "owners.csv"


def write_owners_for(wards: list[tuple[str, str]], path: Path) -> Path:
    """An owners register for any ward register (benchmarks): a matron per site and specialty,
    one directorate lead and the executive. ``wards``: (site_code, specialty) pairs."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["level", "site_code", "specialty", "directorate", "name", "email"])
        for site, specialty in sorted(set(wards)):
            slug = f"{site}-{specialty}".lower().replace(" ", "-")
            writer.writerow(
                ["matron", site, specialty, "Medicine", f"Matron {site} {specialty}",
                 f"matron.{slug}@nhs.example"]
            )  # fmt: skip
        writer.writerow(["directorate", "", "", "Medicine", "Clinical director, Medicine",
                         "medicine.director@nhs.example"])  # fmt: skip
        writer.writerow(["executive", "", "", "", "Chief Nurse", "chief.nurse@nhs.example"])
    return path


def import_demo_owners(engine: Engine, on: date, path: Path | None = None) -> None:
    """Import the demo's owners register the way the team would: through the command (once)."""
    from wardprog import commands as c
    from wardprog.db import session_scope
    from wardprog.models import EscalationOwner
    from wardprog.services.handlers import handle

    with session_scope(engine) as session:
        if session.exec(select(EscalationOwner.id)).first() is not None:
            return  # prepared before: the team imports its register once
    path = path or demo_owners_path()
    handle(
        engine,
        c.build(
            c.ImportOwners,
            actor={"name": "Improvement team"},
            source={"kind": "demo", "file": path.name},
            on=on,
            path=path,
        ),
    )
