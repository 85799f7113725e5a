"""Ward register import: sites, wards and ward managers from a CSV or .xlsx the team keeps.

The import is all-or-nothing: every row is validated first and any problem (naming the row
and column) rejects the whole file, so the register is never half updated. Re-importing the same
file changes nothing; an edited file updates wards in place (matched by ward code).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, EmailStr, Field, ValidationError, field_validator
from sqlmodel import Session, select

from wardprog.errors import InputFileError, RowProblem
from wardprog.models import Site, Ward
from wardprog.sources.tabular import read_table

REQUIRED_COLUMNS = (
    "site_code",
    "site_name",
    "ward_code",
    "ward_name",
    "specialty",
    "beds",
    "manager_name",
    "manager_email",
)
OPTIONAL_COLUMNS = ("priority",)


class RegisterRow(BaseModel):
    """One ward as the register states it; strict at the boundary."""

    site_code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    site_name: str = Field(min_length=1, max_length=200)
    ward_code: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")
    ward_name: str = Field(min_length=1, max_length=200)
    specialty: str = Field(default="", max_length=120)
    beds: int = Field(ge=1, le=200)
    manager_name: str = Field(min_length=1, max_length=200)
    manager_email: EmailStr
    priority: int | None = Field(default=None, ge=0)

    @field_validator("priority", mode="before")
    @classmethod
    def _blank_priority(cls, value: object) -> object:
        return None if value in ("", None) else value


@dataclass(frozen=True)
class ImportResult:
    sites_added: int
    wards_added: int
    wards_updated: int


def read_register(path: Path, data: bytes | None = None) -> list[RegisterRow]:
    """Parse and validate the whole file (CSV or .xlsx), collecting every problem before failing.

    Rows are numbered as the spreadsheet shows them (header row 1, blank lines counted).
    """
    sheet = read_table(path, data)
    header = [h.strip().lower() for h in sheet.header]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputFileError(
            path,
            [
                RowProblem(sheet.header_row, c, "required column is missing from the header")
                for c in missing
            ],
        )
    wanted = {i: h for i, h in enumerate(header) if h in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
    rows: list[RegisterRow] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    for line_no, cells in sheet.rows:
        cleaned = {h: cells[i] if i < len(cells) else "" for i, h in wanted.items()}
        try:
            row = RegisterRow.model_validate(cleaned)
        except ValidationError as exc:
            for err in exc.errors():
                column = str(err["loc"][0]) if err["loc"] else None
                value = cleaned.get(column or "", "")
                problems.append(RowProblem(line_no, column, f"{err['msg']} (got {value!r})"))
            continue
        if row.ward_code in seen:
            problems.append(
                RowProblem(
                    line_no,
                    "ward_code",
                    f"ward {row.ward_code!r} already appears on row {seen[row.ward_code]}",
                )
            )
            continue
        seen[row.ward_code] = line_no
        rows.append(row)
    if problems:
        raise InputFileError(path, problems)
    if not rows:
        raise InputFileError(
            path, [RowProblem(sheet.header_row + 1, None, "the file has a header but no wards")]
        )
    return rows


def import_register(session: Session, path: Path) -> ImportResult:
    """Validate ``path`` then upsert sites and wards in the caller's transaction."""
    rows = read_register(path)
    sites = {s.code: s for s in session.exec(select(Site)).all()}
    wards = {w.code: w for w in session.exec(select(Ward)).all()}
    sites_added = wards_added = wards_updated = 0
    for row in rows:
        site = sites.get(row.site_code)
        if site is None:
            site = Site(code=row.site_code, name=row.site_name)
            session.add(site)
            session.flush()
            sites[site.code] = site
            sites_added += 1
        elif site.name != row.site_name:
            site.name = row.site_name
        values: dict[str, Any] = {
            "name": row.ward_name,
            "site_id": site.id,
            "specialty": row.specialty,
            "beds": row.beds,
            "manager_name": row.manager_name,
            "manager_email": str(row.manager_email),
            "priority": row.priority,
        }
        ward = wards.get(row.ward_code)
        if ward is None:
            session.add(Ward(code=row.ward_code, **values))
            wards_added += 1
        elif any(getattr(ward, k) != v for k, v in values.items()):
            for key, value in values.items():
                setattr(ward, key, value)
            wards_updated += 1
    session.flush()
    return ImportResult(sites_added, wards_added, wards_updated)


def demo_register_path() -> Path:
    """The demo trust: 60 wards on 3 sites, shipped with the package."""
    return Path(__file__).resolve().parent.parent / "demo_data" / "wards.csv"
