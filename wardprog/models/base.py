"""Shared column helpers for SQLModel tables."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

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


class Stored(Protocol):
    """A table row: its id is ``None`` only until it is flushed."""

    @property
    def id(self) -> int | None: ...


def require_id(row: Stored) -> int:
    """``row.id`` typed ``int``: rows read from the database or flushed always have one.

    The models declare ``id: int | None`` (None before the INSERT); code handling stored rows
    reads ids through this instead of silencing the type checker, and a row used before it is
    flushed fails here, by name, rather than writing a NULL foreign key.
    """
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet: flush it before using its id")
    return row.id
