"""The ward register: sites and their wards."""

from __future__ import annotations

from sqlmodel import Field, SQLModel


class Site(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=32)
    name: str = Field(max_length=200)


class Ward(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True, max_length=32)
    name: str = Field(max_length=200)
    site_id: int = Field(foreign_key="site.id", index=True)
    specialty: str = Field(default="", max_length=120)
    beds: int = Field(default=0, ge=0)
    manager_name: str = Field(default="", max_length=200)
    manager_email: str = Field(default="", max_length=320)
    # Lower runs earlier; the team can set it in the register or derive it from diagnostics.
    priority: int | None = Field(default=None)
