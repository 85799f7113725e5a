"""The audit trail: every human action handled, who did it, when, from where, and the outcome."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field, json_field


class Action(SQLModel, table=True):
    """One handled command, written in the same transaction as its effect.

    ``acted_on`` is the programme date the command carries (``--on``, the form's date, the
    tracker's return date), so a replay on the simulated clock audits the simulated day;
    ``recorded_at`` is when the row was written.
    """

    id: int | None = Field(default=None, primary_key=True)
    command: str = Field(max_length=64, index=True)
    actor_name: str = Field(max_length=200)
    actor_email: str = Field(default="", max_length=320)
    acted_on: date = Field(index=True)
    # cli | prefect | file | web | demo
    source_kind: str = Field(max_length=16)
    # The flow run id, "<file>#row <n>", or blank for the command line.
    source_ref: str = Field(default="", max_length=500)
    ward_code: str | None = Field(default=None, max_length=32, index=True)
    item_id: int | None = Field(default=None, index=True)
    # e.g. "item 17", "nomination 4", "event 12", "staff register"
    subject: str = Field(default="", max_length=200)
    outcome: str = ""
    fields: dict[str, Any] = json_field()
    recorded_at: datetime = created_at_field()
