"""Diagnostic snapshots: a ward's metrics and SPC signals as pulled on a date."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field, json_field


class DiagnosticSnapshot(SQLModel, table=True):
    """One pull of a ward's data: the wave's baseline, then the 3- and 6-month re-checks.

    A ward is enrolled in one wave, so (ward, wave, kind) identifies a pull: re-running a stage
    on a later day must find the existing row, never add a second baseline with a new as_of.
    """

    __table_args__ = (
        UniqueConstraint("ward_id", "wave_id", "kind", name="uq_snapshot_ward_wave_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ward_id: int = Field(foreign_key="ward.id", index=True)
    wave_id: int | None = Field(default=None, foreign_key="wave.id", index=True)
    # baseline | recheck_3m | recheck_6m
    kind: str = Field(default="baseline", max_length=16)
    as_of: date
    period_start: date | None = None
    period_end: date | None = None
    metrics: dict[str, Any] = json_field()
    signals: list[dict[str, Any]] = json_field(list)
    staff_survey: dict[str, Any] = json_field()
    pack_path: str | None = Field(default=None, max_length=500)
    created_at: datetime = created_at_field()
