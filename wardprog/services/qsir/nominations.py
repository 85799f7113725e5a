"""QSIR nomination returns: the file a ward manager returns, read, validated and recorded.

The ward manager nominates staff (two per ward by default) for QSIR Practitioner by returning a
nomination file to the ward's inbox folder (or through the Prefect form, which writes the same
file). Nominations need the manager's approval because the ward releases the nominee for five
study days. Everything here runs in the caller's transaction and only flushes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlmodel import Session, col, func, select

from wardprog.config import Settings
from wardprog.errors import InputFileError, RowProblem
from wardprog.models import (
    Course,
    NominationStatus,
    QsirNomination,
    StaffMember,
    Ward,
    Wave,
)
from wardprog.services.context import require_id
from wardprog.services.inbox import inbox_folder
from wardprog.services.staff_register import read_table
from wardprog.sources.tabular import write_csv

NOMINATION_INBOX = "qsir"


NOMINATION_WHAT = "QSIR nomination file"


NOMINATION_COLUMNS: dict[str, tuple[str, ...]] = {
    "staff_number": ("staff_number", "employee_number", "assignment_number", "esr_number"),
    "course": ("course", "programme", "qsir_course"),
    "approved_by": ("approved_by", "manager_approval", "approved", "approver"),
    "notes": ("notes", "comments", "reason"),
}


REQUIRED_NOMINATION_COLUMNS = ("staff_number", "course", "approved_by")


@dataclass(frozen=True)
class NominationLine:
    row: int | None
    staff_number: str
    course: Course
    approved_by: str
    notes: str = ""


def parse_course(raw: str) -> Course | None:
    """Managers write "QSIR Practitioner", "practitioner", "QSIR-P"...; blank means Practitioner."""
    text = raw.strip().lower().replace("qsir", "").strip(" -_")
    if text in {"", "p", "practitioner", "practitioners"}:
        return Course.practitioner
    if text in {"f", "fundamentals", "fundamental"}:
        return Course.fundamentals
    return None


def nomination_inbox(settings: Settings, ward_code: str) -> Path:
    return inbox_folder(settings, ward_code, NOMINATION_INBOX)


def read_nomination_return(path: Path, data: bytes | None = None) -> list[NominationLine]:
    """Parse a returned nomination file; every bad cell is reported with its row and column."""
    table = read_table(path, NOMINATION_COLUMNS, REQUIRED_NOMINATION_COLUMNS, data)
    heading = table.columns
    problems: list[RowProblem] = []
    lines: list[NominationLine] = []
    for row, values in table.rows:
        number = values.get("staff_number", "")
        course = parse_course(values.get("course", ""))
        approver = values.get("approved_by", "")
        if not number:
            problems.append(RowProblem(row, heading["staff_number"], "staff number is empty"))
        if course is None:
            problems.append(
                RowProblem(
                    row,
                    heading["course"],
                    f"course {values.get('course')!r} is not 'practitioner' or 'fundamentals'",
                )
            )
        if not approver:
            problems.append(
                RowProblem(
                    row,
                    heading["approved_by"],
                    "ward manager approval is required: enter the approving manager's name",
                )
            )
        if number and course is not None and approver:
            lines.append(NominationLine(row, number, course, approver, values.get("notes", "")))
    if problems:
        raise InputFileError(table.path, problems)
    if not lines:
        raise InputFileError(table.path, [RowProblem(None, None, "the file has no nominations")])
    return lines


def record_nominations(
    session: Session,
    settings: Settings,
    *,
    ward: Ward,
    wave: Wave | None,
    lines: Sequence[NominationLine],
    source: Path | str,
    as_of: date,
) -> list[QsirNomination]:
    """Validate and store nominations for ``ward``: all of them, or none with every problem listed.

    Refused: unknown staff, staff from another ward, the same person twice in the file, anyone
    already nominated for that course, and more Practitioner nominees than the ward's allowance.
    """
    numbers = sorted({line.staff_number.upper() for line in lines})
    staff = {
        s.staff_number.upper(): s
        for s in session.exec(
            select(StaffMember).where(func.upper(StaffMember.staff_number).in_(numbers))
        ).all()
    }
    staff_ids = [s.id for s in staff.values() if s.id is not None]
    existing = {
        (n.staff_id, n.course): n
        for n in session.exec(
            select(QsirNomination).where(col(QsirNomination.staff_id).in_(staff_ids))
        ).all()
    }
    # Only the other wards named in the file: reading every ward here made each ward's stage
    # cost grow with the size of the trust.
    other_wards = {s.ward_id for s in staff.values() if s.ward_id != ward.id}
    ward_codes = (
        dict(session.exec(select(Ward.id, Ward.code).where(col(Ward.id).in_(other_wards))).all())
        if other_wards
        else {}
    )

    problems: list[RowProblem] = []
    seen: dict[tuple[str, Course], int | None] = {}
    accepted: list[tuple[NominationLine, StaffMember]] = []
    for line in lines:
        row, column = line.row, "staff_number"
        member = staff.get(line.staff_number.upper())
        key = (line.staff_number.upper(), line.course)
        if key in seen:
            first = seen[key]
            problems.append(
                RowProblem(
                    row,
                    column,
                    f"staff {line.staff_number} is nominated twice for {line.course.value}"
                    + (f" (also on row {first})" if first is not None else "")
                    + "; remove the duplicate",
                )
            )
            continue
        seen[key] = row
        if member is None:
            problems.append(
                RowProblem(
                    row,
                    column,
                    f"staff number {line.staff_number} is not in the staff register; "
                    "check the number or import the latest staff extract",
                )
            )
            continue
        if member.ward_id != ward.id:
            other = ward_codes.get(member.ward_id, "no ward")
            problems.append(
                RowProblem(
                    row,
                    column,
                    f"{member.name} ({member.staff_number}) is on {other}, not {ward.code}; "
                    "their own ward manager must nominate them",
                )
            )
            continue
        previous = existing.get((member.id or 0, line.course))
        if previous is not None:
            when = f", nominated on {previous.nominated_on}" if previous.nominated_on else ""
            problems.append(
                RowProblem(
                    row,
                    column,
                    f"{member.name} ({member.staff_number}) is already nominated for "
                    f"{line.course.value} (status {previous.status.value}{when})",
                )
            )
            continue
        accepted.append((line, member))

    allowance = settings.qsir_nominees_per_ward
    already = len(
        session.exec(
            select(QsirNomination.id).where(
                QsirNomination.ward_id == ward.id,
                QsirNomination.wave_id == (wave.id if wave else None),
                QsirNomination.course == Course.practitioner,
            )
        ).all()
    )
    practitioners = {ln.staff_number.upper() for ln in lines if ln.course == Course.practitioner}
    if already + len(practitioners) > allowance:
        problems.append(
            RowProblem(
                None,
                "course",
                f"{len(practitioners)} Practitioner nominations but {ward.code}'s allowance is "
                f"{allowance} per wave ({already} already recorded); "
                f"keep at most {max(0, allowance - already)}",
            )
        )
    if problems:
        raise InputFileError(source, problems)

    created: list[QsirNomination] = []
    with session.begin_nested():
        for line, member in accepted:
            nomination = QsirNomination(
                staff_id=require_id(member),
                ward_id=require_id(ward),
                wave_id=wave.id if wave else None,
                course=line.course,
                status=NominationStatus.nominated,
                approved_by=line.approved_by,
                nominated_on=as_of,
                source=f"{source}#row {line.row}" if line.row is not None else str(source),
                extra={"notes": line.notes} if line.notes else {},
            )
            session.add(nomination)
            created.append(nomination)
        session.flush()
    return created


def write_nomination_return(
    settings: Settings,
    ward_code: str,
    lines: Iterable[tuple[str, str, str]],
    filename: str,
) -> Path:
    """Write (staff_number, course, approved_by) rows as a nomination return in the ward inbox.

    The Prefect form and the demo both go through the file, so every nomination has the same
    validation and an audit trail a ward manager can open.
    """
    folder = nomination_inbox(settings, ward_code)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    write_csv(path, ["staff_number", "course", "approved_by"], lines)
    return path
