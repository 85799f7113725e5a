"""Named owners for what leaves the ward: matrons, directorate leads and the trust executive.

The escalation ladder for change requests runs ward -> matron -> directorate lead -> trust
executive. The owners register (imported like the ward register, all rows or none) names a
person and an email for each step: a matron per site and specialty (which also says the
specialty's directorate), a lead per directorate (optionally per site) and the executive.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field


class OwnerLevel(StrEnum):
    """The rungs of the ladder above the ward, lowest first."""

    matron = "matron"
    directorate = "directorate"
    executive = "executive"

    @property
    def rank(self) -> int:
        return list(OwnerLevel).index(self)

    @property
    def label(self) -> str:
        return _LABELS[self.value]


_LABELS = {"matron": "Matron", "directorate": "Directorate lead", "executive": "Trust executive"}


class EscalationOwner(SQLModel, table=True):
    """One row of the owners register. Blank ``site_code`` / ``specialty`` mean "any"."""

    id: int | None = Field(default=None, primary_key=True)
    level: str = Field(max_length=16, index=True)
    site_code: str = Field(default="", max_length=32)
    specialty: str = Field(default="", max_length=120)
    directorate: str = Field(default="", max_length=120)
    name: str = Field(max_length=200)
    email: str = Field(max_length=320)
    title: str = Field(default="", max_length=200)
    source_row: int | None = None
    created_at: datetime = created_at_field()


class OwnerChange(SQLModel, table=True):
    """Who held a change request from when: raised to the matron, escalated, handed on.

    The item keeps only its current owner; this history answers "who owned it on that day",
    so chasing a past date (a re-run, a replay) reaches whoever held it then, and the ward
    page and reports can show the request's path up the ladder.
    """

    id: int | None = Field(default=None, primary_key=True)
    triage_item_id: int = Field(foreign_key="triageitem.id", index=True)
    on: date
    owner: str = Field(default="", max_length=200)
    owner_email: str = Field(default="", max_length=320)
    level: str = Field(default="", max_length=16)
    # "raised", "escalated", "decided" (a decision handed it to a named owner), "backfilled"
    reason: str = Field(max_length=16)
    created_at: datetime = created_at_field()
