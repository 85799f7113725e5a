"""A ward that could not start in its wave (outbreak, closure, refurbishment), moved on."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field


class WardDeferral(SQLModel, table=True):
    """One deferral: the ward left ``from_wave_id`` and goes first in its site's next wave."""

    id: int | None = Field(default=None, primary_key=True)
    ward_id: int = Field(foreign_key="ward.id", index=True)
    from_wave_id: int = Field(foreign_key="wave.id")
    reason: str
    deferred_on: date
    deferred_by: str = Field(default="", max_length=200)
    created_at: datetime = created_at_field()
