"""Staff register: import the ward staff list from a CSV/Excel (ESR-style) extract.

Workforce teams export staff from ESR (the NHS Electronic Staff Record) with their own column
names, so common ESR headings are accepted as aliases. The import is all-or-nothing: every row
is validated first and every problem is reported with its row and column, so the person fixing
the extract can do it in one pass; only a clean file is written, upserting by staff number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, func, select

from wardprog.errors import InputFileError, RowProblem
from wardprog.models import StaffMember, Ward
from wardprog.sources.tabular import read_table as read_sheet

# Accepted headings (normalised: lower case, runs of non-alphanumerics -> "_") per field.
STAFF_COLUMNS: dict[str, tuple[str, ...]] = {
    "staff_number": ("staff_number", "employee_number", "assignment_number", "esr_number"),
    "name": ("name", "full_name", "employee_name", "staff_name"),
    "role": ("role", "job_role", "position_title", "position", "job_title"),
    "band": ("band", "pay_band", "grade", "agenda_for_change_band"),
    "ward_code": ("ward_code", "ward", "cost_centre_ward", "department_code"),
    "email": ("email", "email_address", "work_email", "nhs_mail"),
}
REQUIRED_STAFF_COLUMNS = ("staff_number", "name", "ward_code")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STAFF_NUMBER = re.compile(r"^[A-Za-z0-9-]{1,32}$")
_BAND = re.compile(r"^(?:band\s*)?([1-9]|8[a-d])$", re.IGNORECASE)


def normalise_heading(heading: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(heading).strip().lower()).strip("_")


@dataclass(frozen=True)
class Table:
    """A user's file as text cells, with the spreadsheet row number of each data row."""

    path: Path
    columns: dict[str, str]  # canonical field -> heading as it appears in the file
    rows: list[tuple[int, dict[str, str]]]  # (spreadsheet row, canonical field -> value)


def read_table(
    path: Path,
    aliases: Mapping[str, tuple[str, ...]],
    required: tuple[str, ...],
    data: bytes | None = None,
) -> Table:
    """Read a CSV or .xlsx file as strings; missing required columns are an InputFileError.

    Row numbers are as a spreadsheet user sees them: the header is row 1, blank lines count.
    """
    sheet = read_sheet(path, data)
    frame_columns = sheet.header
    by_heading: dict[str, str] = {}
    for h in frame_columns:
        by_heading.setdefault(normalise_heading(h), h)
    columns: dict[str, str] = {}
    for canonical, names in aliases.items():
        for name in names:
            if name in by_heading:
                columns[canonical] = by_heading[name]
                break
    missing = [c for c in required if c not in columns]
    if missing:
        found = ", ".join(repr(h) for h in frame_columns if h) or "none"
        raise InputFileError(
            path,
            [
                RowProblem(
                    sheet.header_row, c, f"required column missing (headings found: {found})"
                )
                for c in missing
            ],
        )
    index = {h: i for i, h in reversed(list(enumerate(frame_columns)))}
    rows: list[tuple[int, dict[str, str]]] = []
    for row_number, cells in sheet.rows:
        values = {c: cells[index[h]] if index[h] < len(cells) else "" for c, h in columns.items()}
        if any(values.values()):  # a row with only unrelated columns filled is not a row
            rows.append((row_number, values))
    return Table(path=sheet.path, columns=columns, rows=rows)


def normalise_band(raw: str) -> str | None:
    """ "5", "Band 5", "band 8a" -> "Band 5" / "Band 8a"; None if not an Agenda for Change band."""
    match = _BAND.match(raw.strip())
    return f"Band {match.group(1).lower()}" if match else None


def import_staff(session: Session, path: Path) -> int:
    """Upsert the staff in ``path`` by staff number; returns the number of rows imported.

    Runs in the caller's transaction and only flushes. Validation happens before any write and
    the writes run in a savepoint, so a bad file leaves the database exactly as it was.
    """
    table = read_table(path, STAFF_COLUMNS, REQUIRED_STAFF_COLUMNS)
    heading = table.columns
    wards = {w.code.upper(): w for w in session.exec(select(Ward)).all()}
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    clean: list[dict[str, str | int]] = []
    for row, values in table.rows:
        problem_count = len(problems)
        number = values.get("staff_number", "")
        if not number:
            problems.append(RowProblem(row, heading["staff_number"], "staff number is empty"))
        elif not _STAFF_NUMBER.match(number):
            problems.append(
                RowProblem(row, heading["staff_number"], f"staff number {number!r} is not valid")
            )
        elif number.upper() in seen:
            problems.append(
                RowProblem(
                    row,
                    heading["staff_number"],
                    f"staff number {number} already appears on row {seen[number.upper()]}",
                )
            )
        else:
            seen[number.upper()] = row
        name = values.get("name", "")
        if not name:
            problems.append(RowProblem(row, heading["name"], "name is empty"))
        ward_code = values.get("ward_code", "").upper()
        ward = wards.get(ward_code)
        if not ward_code:
            problems.append(RowProblem(row, heading["ward_code"], "ward code is empty"))
        elif ward is None:
            problems.append(
                RowProblem(
                    row,
                    heading["ward_code"],
                    f"unknown ward code {ward_code!r}; add the ward to the register first",
                )
            )
        band = values.get("band", "")
        band_clean = ""
        if band:
            normalised = normalise_band(band)
            if normalised is None:
                problems.append(
                    RowProblem(row, heading["band"], f"band {band!r} is not Band 1-9 or 8a-8d")
                )
            else:
                band_clean = normalised
        email = values.get("email", "")
        if email and not _EMAIL.match(email):
            problems.append(RowProblem(row, heading["email"], f"{email!r} is not an email address"))
        if len(problems) == problem_count and ward is not None:
            clean.append(
                {
                    "staff_number": number,
                    "name": name,
                    "role": values.get("role", ""),
                    "band": band_clean,
                    "ward_id": ward.id,  # type: ignore[dict-item]
                    "email": email.lower(),
                }
            )
    if problems:
        raise InputFileError(table.path, problems)
    if not clean:
        raise InputFileError(table.path, [RowProblem(None, None, "the file has no staff rows")])

    numbers = [str(c["staff_number"]).upper() for c in clean]
    existing: dict[str, StaffMember] = {}
    # A trust-wide ESR extract has far more staff than PostgreSQL's 65,535 bound parameters.
    for start in range(0, len(numbers), 10_000):
        chunk = numbers[start : start + 10_000]
        for found in session.exec(
            select(StaffMember).where(func.upper(StaffMember.staff_number).in_(chunk))
        ).all():
            existing[found.staff_number.upper()] = found
    with session.begin_nested():
        for record in clean:
            member = existing.get(str(record["staff_number"]).upper())
            if member is None:
                session.add(StaffMember(**record))  # type: ignore[arg-type]
            else:
                for attr, value in record.items():
                    if attr == "staff_number":
                        continue
                    if attr in {"role", "band", "email"} and value == "":
                        continue  # a blank optional cell does not erase what we hold
                    setattr(member, attr, value)
        session.flush()
    return len(clean)
