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

from sqlmodel import Session

from wardprog.config import Settings
from wardprog.models import Site, Ward, WardEnrolment, Wave


@dataclass
class StageContext:
    session: Session
    settings: Settings
    as_of: date
    ward: Ward
    site: Site
    wave: Wave
    enrolment: WardEnrolment


@dataclass
class StageOutcome:
    """``done`` False means the stage waits for people (e.g. a template not yet returned)."""

    done: bool
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
