"""Ward register import: sites, wards and ward managers from a CSV or .xlsx the team keeps.

The import is all-or-nothing: every row is validated first and any problem (naming the row
and column) rejects the whole file, so the register is never half updated. Re-importing the same
file changes nothing; an edited file updates wards in place (matched by ward code).
"""

from __future__ import annotations

from collections.abc import Sequence
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

    @field_validator("ward_code")
    @classmethod
    def _not_the_team_folder(cls, value: str) -> str:
        # <inbox_dir>/team/ is the improvement team's own inbox: a ward of that code would share it.
        if value.casefold() == "team":
            raise ValueError("'team' is reserved for the improvement team's inbox folder")
        return value

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
    numbered: list[tuple[int, RegisterRow]] = []
    problems: list[RowProblem] = []
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
        numbered.append((line_no, row))
    problems += register_conflicts(numbered)
    rows = [row for _, row in numbered]
    if problems:
        raise InputFileError(path, problems)
    if not rows:
        raise InputFileError(
            path, [RowProblem(sheet.header_row + 1, None, "the file has a header but no wards")]
        )
    return rows


def register_conflicts(numbered: Sequence[tuple[int, RegisterRow]]) -> list[RowProblem]:
    """What makes a register mean something other than it says, row by row.

    Codes are compared ignoring case: ``NGH-ASH`` and ``ngh-ash`` on one register are the same
    ward typed twice, not two wards, and ``ngh`` is not a fourth site. A site code must keep one
    name (two spellings would silently rename the site, last row winning), and a site code that
    is also a ward code is almost always a ward code in the wrong column.
    """
    problems: list[RowProblem] = []
    wards: dict[str, tuple[int, str]] = {}
    sites: dict[str, tuple[int, str, str]] = {}  # folded code -> (first row, code, name)
    for line_no, row in numbered:
        key = row.ward_code.casefold()
        if key in wards:
            first, code = wards[key]
            same = "" if code == row.ward_code else f" as {code!r} (codes ignore case)"
            problems.append(
                RowProblem(
                    line_no,
                    "ward_code",
                    f"ward {row.ward_code!r} already appears on row {first}{same}",
                )
            )
        else:
            wards[key] = (line_no, row.ward_code)
        site_key = row.site_code.casefold()
        if site_key not in sites:
            sites[site_key] = (line_no, row.site_code, row.site_name)
            continue
        first, code, name = sites[site_key]
        if code != row.site_code:
            problems.append(
                RowProblem(
                    line_no,
                    "site_code",
                    f"site {row.site_code!r} differs only in case from {code!r} on row {first}; "
                    f"use one spelling",
                )
            )
        elif name != row.site_name:
            problems.append(
                RowProblem(
                    line_no,
                    "site_name",
                    f"site {code!r} is named {row.site_name!r} here but {name!r} on row {first}; "
                    f"one site has one name",
                )
            )
    for line_no, row in numbered:
        match = wards.get(row.site_code.casefold())
        if match is not None:
            problems.append(
                RowProblem(
                    line_no,
                    "site_code",
                    f"site code {row.site_code!r} is the ward code on row {match[0]}: "
                    f"are the site_code and ward_code columns swapped?",
                )
            )
    return sorted(problems, key=lambda p: (p.row or 0, p.column or ""))


def _case_clash(kind: str, code: str, registered: dict[str, str]) -> RowProblem | None:
    """A ``kind`` ("ward" or "site") code that matches a registered one but for its case.

    ``registered`` maps each registered code, case-folded, to the code as registered.
    """
    known = registered.get(code.casefold())
    if known is None or known == code:
        return None
    return RowProblem(
        None,
        f"{kind}_code",
        f"{kind} {code!r} differs only in case from {kind} {known!r} already registered; "
        f"use {known!r}",
    )


def _conflicts_with_register(
    path: Path, rows: Sequence[RegisterRow], sites: dict[str, Site], wards: dict[str, Ward]
) -> None:
    """Refuse codes that differ only in case from a site or ward already in the database."""
    site_codes = {code.casefold(): code for code in sites}
    ward_codes = {code.casefold(): code for code in wards}
    problems = [
        problem
        for row in rows
        for problem in (
            _case_clash("ward", row.ward_code, ward_codes),
            _case_clash("site", row.site_code, site_codes),
        )
        if problem is not None
    ]
    if problems:
        raise InputFileError(path, list(dict.fromkeys(problems)))


def import_register(session: Session, path: Path, data: bytes | None = None) -> ImportResult:
    """Validate ``path`` (or its ``data``, already read) then upsert sites and wards in the
    caller's transaction."""
    rows = read_register(path, data)
    sites = {s.code: s for s in session.exec(select(Site)).all()}
    wards = {w.code: w for w in session.exec(select(Ward)).all()}
    _conflicts_with_register(path, rows, sites, wards)
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
