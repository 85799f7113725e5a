"""What every stage service receives, and what it reports back.

The enrolment orchestrator (``services/enrolment.py``) opens one transaction per ward per stage,
builds a :class:`StageContext`, calls the stage and, if the stage is done, advances the enrolment
in the same transaction. Stage services therefore never commit; they ``flush`` when they need
ids, enqueue notifications on ``ctx.session`` and must be idempotent: called again for a ward
whose stage already produced rows, they return the existing rows and write nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import Session, select

from wardprog.config import Settings
from wardprog.errors import NotFoundError
from wardprog.models import Site, TriageItem, Ward, WardEnrolment, Wave
from wardprog.models.base import Stored, require_id

__all__ = [
    "StageContext",
    "StageOutcome",
    "Stored",
    "context_for_ward",
    "require_id",
    "triage_item",
    "ward_by_code",
    "ward_enrolment",
]


@dataclass
class StageContext:
    session: Session
    settings: Settings
    as_of: date
    ward: Ward
    site: Site
    wave: Wave
    enrolment: WardEnrolment
    # What the wave's deciding step settled for this ward before its turn (an engagement
    # slot, ``enrolment.before_stage``); None when the stage decides for itself.
    plan: dict[str, Any] | None = None


@dataclass
class StageOutcome:
    """``done`` False means the stage waits for people (e.g. a template not yet returned)."""

    done: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


def ward_by_code(session: Session, ward_code: str) -> Ward:
    """The ward with this code, or NotFoundError naming it (every way in looks wards up so)."""
    ward = session.exec(select(Ward).where(Ward.code == ward_code)).first()
    if ward is None:
        raise NotFoundError(f"no ward with code {ward_code!r}; check the ward register")
    return ward


def ward_enrolment(session: Session, ward: Ward) -> WardEnrolment | None:
    """The ward's place in the programme, or None before it joins a wave (one at most)."""
    return session.exec(select(WardEnrolment).where(WardEnrolment.ward_id == ward.id)).first()


def triage_item(session: Session, item_id: int) -> TriageItem:
    """The triage item with this id, or NotFoundError naming it."""
    item = session.get(TriageItem, item_id)
    if item is None:
        raise NotFoundError(f"Triage item {item_id} does not exist")
    return item


def context_for_ward(
    session: Session, settings: Settings, ward_code: str, as_of: date
) -> StageContext:
    """The stage context for a ward by code: for flows and commands run for one ward."""
    ward = ward_by_code(session, ward_code)
    enrolment = ward_enrolment(session, ward)
    if enrolment is None:
        raise NotFoundError(f"ward {ward_code} is not enrolled in a wave yet")
    wave = session.get(Wave, enrolment.wave_id)
    site = session.get(Site, ward.site_id)
    if wave is None or site is None:
        raise NotFoundError(f"ward {ward_code}'s wave or site is missing")
    return StageContext(session, settings, as_of, ward, site, wave, enrolment)
