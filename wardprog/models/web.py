"""Who holds a ward-page link, and the key version that revokes every link they were sent."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field, tz_datetime_field


class WebAccess(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, index=True, max_length=320)
    # Links carry the version they were signed with; bumping it revokes all of them at once.
    key_version: int = 1
    revoked_at: datetime | None = tz_datetime_field()
    created_at: datetime = created_at_field()
