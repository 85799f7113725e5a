"""Shared column helpers for SQLModel tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field

from wardprog import clock


def utcnow() -> datetime:
    """Now on the engine's clock (``wardprog.clock``): a replay's rows are dated on its day."""
    return clock.now()


def created_at_field() -> Any:
    """When the row was written, on the engine's one clock (never the wall clock directly)."""
    return Field(default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False))


def tz_datetime_field(nullable: bool = True, index: bool = False) -> Any:
    """Timezone-aware timestamp column (stored UTC; rendered Europe/London)."""
    return Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index)
    )


def json_field(default_factory: Any = dict) -> Any:
    return Field(default_factory=default_factory, sa_column=Column(JSON, nullable=False))
