"""The owners register and the ladder: who owns a change request, and who it climbs to.

``import_owners`` reads a CSV/xlsx (all rows or none, every problem with its row and column)
and replaces the register. ``owner_for`` finds the person for a ward at a rung (the most
specific row wins: site and specialty, then specialty, then site, then trust-wide).
``escalate_overdue`` moves overdue change requests up the ladder: the new owner gets a message,
the ward a note, the item records the rung, each exactly once (outbox idempotency keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlmodel import Session, col, delete, select

from wardprog.config import Settings
from wardprog.errors import InputFileError, RowProblem
from wardprog.models import (
    EscalationOwner,
    Notification,
    OwnerChange,
    OwnerLevel,
    Site,
    TriageCategory,
    TriageItem,
    TriageStatus,
    Ward,
)
from wardprog.notify.outbox import enqueue
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG
from wardprog.rules.escalation import Ladder, next_level
from wardprog.services.context import require_id
from wardprog.services.staff_register import read_table

OWNER_COLUMNS: dict[str, tuple[str, ...]] = {
    "level": ("level", "role", "rung"),
    "site_code": ("site_code", "site"),
    "specialty": ("specialty", "speciality"),
    "directorate": ("directorate", "division", "care_group"),
    "name": ("name", "full_name", "owner_name"),
    "email": ("email", "email_address", "work_email", "nhs_mail"),
    "title": ("title", "job_title"),
}
REQUIRED_OWNER_COLUMNS = ("level", "site_code", "specialty", "directorate", "name", "email")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def ladder_from(settings: Settings) -> Ladder:
    return Ladder(settings.escalation_directorate_days, settings.escalation_executive_days)


def read_owners(session: Session, path: Path) -> list[EscalationOwner]:
    """Validate the whole file (nothing is written here); every problem at once."""
    table = read_table(path, OWNER_COLUMNS, REQUIRED_OWNER_COLUMNS)
    sites = set(session.exec(select(Site.code)).all())
    problems: list[RowProblem] = []
    rows: list[EscalationOwner] = []
    seen: dict[tuple[str, str, str, str], int] = {}
    levels = ", ".join(level.value for level in OwnerLevel)
    for row_no, v in table.rows:
        level = v.get("level", "").casefold()
        ok = True
        if level not in {lvl.value for lvl in OwnerLevel}:
            problems.append(RowProblem(row_no, "level", f"{v.get('level')!r}: use one of {levels}"))
            ok = False
        for column, limit in (("name", 200), ("directorate", 120), ("specialty", 120)):
            if len(v.get(column, "")) > limit:
                problems.append(RowProblem(row_no, column, f"is longer than {limit} characters"))
                ok = False
        if not v.get("name"):
            problems.append(RowProblem(row_no, "name", "is empty; name the person"))
            ok = False
        email = v.get("email", "").lower()
        if not _EMAIL.match(email):
            problems.append(RowProblem(row_no, "email", f"{email!r} is not an email address"))
            ok = False
        site = v.get("site_code", "").upper()
        if site and sites and site not in sites:
            problems.append(
                RowProblem(row_no, "site_code", f"{site!r} is not a site in the ward register")
            )
            ok = False
        if level in ("matron", "directorate") and not v.get("directorate"):
            problems.append(
                RowProblem(row_no, "directorate", f"a {level} row needs its directorate")
            )
            ok = False
        if level == "matron" and not (site and v.get("specialty")):
            problems.append(
                RowProblem(row_no, "specialty", "a matron row needs its site_code and specialty")
            )
            ok = False
        if not ok:
            continue
        specialty = v.get("specialty", "") if level == "matron" else ""
        directorate = v.get("directorate", "") if level != "executive" else ""
        key = (level, site, specialty.casefold(), directorate.casefold())
        if key in seen:
            problems.append(
                RowProblem(row_no, "level", f"the same {level} is already named on row {seen[key]}")
            )
            continue
        seen[key] = row_no
        rows.append(
            EscalationOwner(
                level=level,
                site_code=site,
                specialty=specialty,
                directorate=directorate,
                name=v["name"],
                email=email,
                title=v.get("title", ""),
                source_row=row_no,
            )
        )
    if not rows and not problems:
        problems.append(RowProblem(2, None, "the file has a header but no owners"))
    if problems:
        raise InputFileError(table.path, problems)
    return rows


def import_owners(session: Session, path: Path) -> int:
    """Replace the owners register with ``path``'s rows; returns how many were imported.

    Items already assigned keep their owners; new change requests and escalations use the new
    register.
    """
    rows = read_owners(session, path)
    session.exec(delete(EscalationOwner))  # type: ignore[call-overload]
    session.add_all(rows)
    session.flush()
    return len(rows)


@dataclass(frozen=True)
class Owner:
    level: str
    name: str
    email: str
    title: str

    @property
    def described(self) -> str:
        return self.title or OwnerLevel(self.level).label


def _owners(session: Session, site_code: str | None = None) -> list[EscalationOwner]:
    """The register in row order; with ``site_code``, only the rows that can serve that site
    (its own and the trust-wide ones): a region's register holds every site's people, and a
    ward's owners are read for each ward of each wave."""
    query = select(EscalationOwner)
    if site_code is not None:
        query = query.where(col(EscalationOwner.site_code).in_(("", site_code)))
    return list(session.exec(query.order_by(col(EscalationOwner.id))).all())


def _site_code(session: Session, ward: Ward) -> str:
    site = session.get(Site, ward.site_id)
    return site.code if site else ""


def owners_for(session: Session, ward: Ward) -> dict[str, Owner]:
    """The person at each staffed rung for ``ward`` (rungs nobody is named for are absent)."""
    site = _site_code(session, ward)
    specialty = ward.specialty.casefold()
    rows = _owners(session, site)  # this site's rows and the trust-wide ones

    def best(candidates: list[EscalationOwner]) -> EscalationOwner | None:
        # Most specific first: site and specialty/directorate, then without site, etc.
        scored = sorted(candidates, key=lambda r: (r.site_code != site, r.id or 0))
        return scored[0] if scored else None

    found: dict[str, Owner] = {}
    matron = best([r for r in rows if r.level == "matron" and r.specialty.casefold() == specialty])
    if matron is not None:
        found["matron"] = Owner("matron", matron.name, matron.email, matron.title)
        lead = best(
            [
                r
                for r in rows
                if r.level == "directorate"
                and r.directorate.casefold() == matron.directorate.casefold()
            ]
        )
        if lead is not None:
            found["directorate"] = Owner("directorate", lead.name, lead.email, lead.title)
    executive = best([r for r in rows if r.level == "executive"])
    if executive is not None:
        found["executive"] = Owner("executive", executive.name, executive.email, executive.title)
    return found


def owner_by_name(session: Session, name: str) -> EscalationOwner | None:
    """A register entry named ``name`` (a decision may hand an item to a named owner)."""
    wanted = name.strip().casefold()
    return next((r for r in _owners(session) if r.name.casefold() == wanted), None)


def assign_matron(session: Session, ward: Ward, item: TriageItem, as_of: date) -> None:
    """A new change request goes to the ward's matron (when the register names one)."""
    route_to_matron(owners_for(session, ward), item, as_of)


def route_to_matron(owners: dict[str, Owner], item: TriageItem, as_of: date) -> None:
    """:func:`assign_matron` with the ward's owners already read (a file's change requests)."""
    matron = owners.get("matron")
    if matron is None:
        return
    if not item.owner or item.owner == item.escalated_to:
        item.owner = matron.name
    item.owner_email = matron.email if item.owner == matron.name else item.owner_email
    item.escalated_to = f"{matron.described} ({matron.name})"[:200]
    item.escalation_level = "matron"
    item.escalated_on = as_of


def record_owner(session: Session, item: TriageItem, on: date, reason: str) -> None:
    """Add the item's current owner to its history, held from ``on`` (see ``OwnerChange``)."""
    session.add(
        OwnerChange(
            triage_item_id=require_id(item),
            on=on,
            owner=item.owner,
            owner_email=item.owner_email,
            level=item.escalation_level,
            reason=reason,
        )
    )


def owners_on(session: Session, item_ids: list[int], as_of: date) -> dict[int, OwnerChange]:
    """Who held each item on ``as_of``: its latest owner change by then (one query).

    An item whose history starts after ``as_of`` gets its first entry (the owner it was raised
    with); an item with no history (a fix, a project) is left out: its owner never moved.
    """
    rows = session.exec(
        select(OwnerChange)
        .where(col(OwnerChange.triage_item_id).in_(item_ids))
        .order_by(col(OwnerChange.triage_item_id), col(OwnerChange.on), col(OwnerChange.id))
    ).all()
    held: dict[int, OwnerChange] = {}
    for row in rows:
        if row.on <= as_of or row.triage_item_id not in held:
            held[row.triage_item_id] = row
    return held


@dataclass(frozen=True)
class Escalation:
    item_id: int
    ward_code: str
    level: str
    owner: str
    days_overdue: int


def escalate_overdue(session: Session, settings: Settings, as_of: date) -> list[Escalation]:
    """Move each overdue open change request to the rung its lateness calls for."""
    ladder = ladder_from(settings)
    items = session.exec(
        select(TriageItem)
        .where(
            TriageItem.status == TriageStatus.open,
            TriageItem.category == TriageCategory.change,
            col(TriageItem.review_date) < as_of,
        )
        .order_by(col(TriageItem.id))
    ).all()
    done: list[Escalation] = []
    cache: dict[int, dict[str, Owner]] = {}
    for item in items:
        assert item.review_date is not None and item.id is not None
        ward = session.get(Ward, item.ward_id)
        assert ward is not None
        ward_id = require_id(ward)
        if ward_id not in cache:
            cache[ward_id] = owners_for(session, ward)
        owners = cache[ward_id]
        days = (as_of - item.review_date).days
        level = next_level(item.escalation_level, days, ladder, set(owners))
        if level is None:
            continue
        owner = owners[level]
        previous = item.owner
        item.owner = owner.name
        item.owner_email = owner.email
        item.escalation_level = level
        item.escalated_to = f"{owner.described} ({owner.name})"[:200]
        item.escalated_on = as_of
        session.add(item)
        record_owner(session, item, as_of, "escalated")
        _tell(session, ward, item, owner, previous, days)
        done.append(Escalation(item.id, ward.code, level, owner.name, days))
    session.flush()
    return done


def _tell(
    session: Session, ward: Ward, item: TriageItem, owner: Owner, previous: str, days: int
) -> tuple[Notification, Notification]:
    context = {
        "ward_name": ward.name,
        "ward_code": ward.code,
        "manager_name": ward.manager_name or "Ward manager",
        "owner_name": owner.name,
        "owner_title": owner.described,
        "previous_owner": previous,
        "issue": item.issue,
        "item_id": item.id,
        "review_date": item.review_date,
        "days_overdue": days,
        "level": owner.level,
    }
    to_owner = enqueue(
        session,
        key=f"escalation:item-{item.id}:{owner.level}",
        kind="escalation",
        tags=[IMPROVEMENT_TEAM_TAG],
        context=context,
        recipients=[owner.email],
    )
    site = session.get(Site, ward.site_id)
    to_ward = enqueue(
        session,
        key=f"escalation_note:{ward.code}:item-{item.id}:{owner.level}",
        kind="escalation_note",
        tags=[ward.code, *([site.code] if site else [])],
        context=context,
        ward_code=ward.code,
        recipients=[ward.manager_email] if ward.manager_email else [],
    )
    return to_owner, to_ward
