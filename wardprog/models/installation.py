"""What kind of installation a database belongs to: a real deployment or the demo trust.

The demo writes fictional wards, staff and messages; a real deployment holds patients' wards and
real people's addresses. One row, written once, says which this database is, so demo code can
refuse a database it did not create (see ``wardprog.services.installation``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field


class InstallationKind(StrEnum):
    production = "production"
    demo = "demo"


class Installation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    # An InstallationKind value; a plain string column so adding a kind needs no enum migration.
    kind: str = Field(max_length=20)
    # Who claimed the database: the command that first wrote to it.
    claimed_by: str = Field(default="", max_length=200)
    created_at: datetime = created_at_field()
