"""QSIR actions by staff number: find a nominee, take a teaching day's register.

Facilitators know their delegates by ESR staff number, not by our nomination ids, so every
QSIR command names a staff number and these functions find the nomination it means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlmodel import Session, col, func, select

from wardprog.errors import InputFileError, NotFoundError, RowProblem
from wardprog.models import NominationStatus, QsirCohort, QsirNomination, StaffMember, Ward
from wardprog.services.context import require_id
from wardprog.services.qsir import ACTIVE, AttendanceError, cohort_dates, record_attendance
from wardprog.services.staff_register import read_table

REGISTER_COLUMNS: dict[str, tuple[str, ...]] = {
    "staff_number": ("staff_number", "employee_number", "assignment_number", "esr_number"),
    "attended": ("attended", "present", "attendance"),
}
_YES = {"", "y", "yes", "present", "attended", "1", "true", "x"}
_NO = {"n", "no", "absent", "0", "false"}


def staff_member(session: Session, staff_number: str) -> StaffMember:
    member = session.exec(
        select(StaffMember).where(func.upper(StaffMember.staff_number) == staff_number.upper())
    ).first()
    if member is None:
        raise NotFoundError(
            f"staff number {staff_number!r} is not in the staff register "
            "(wardprog staff import FILE adds it)"
        )
    return member


def nomination_for(
    session: Session, staff_number: str, prefer: Sequence[NominationStatus] = ()
) -> tuple[QsirNomination, Ward]:
    """The staff member's nomination: the latest in one of ``prefer``, else the latest."""
    member = staff_member(session, staff_number)
    nominations = session.exec(
        select(QsirNomination)
        .where(QsirNomination.staff_id == member.id)
        .order_by(col(QsirNomination.id).desc())
    ).all()
    if not nominations:
        raise NotFoundError(f"{member.name} ({member.staff_number}) has no QSIR nomination")
    chosen = next((n for n in nominations if n.status in prefer), nominations[0])
    ward = session.get(Ward, chosen.ward_id)
    assert ward is not None
    return chosen, ward


@dataclass(frozen=True)
class RegisterResult:
    cohort_code: str
    session_date: date
    present: list[str]
    absent: list[str]
    ward_codes: list[str]


def take_register(
    session: Session,
    cohort_code: str,
    session_date: date,
    present: Sequence[str],
    absent: Sequence[str] | None = None,
) -> RegisterResult:
    """Record one teaching day for a cohort; everyone not ``present`` is absent unless
    ``absent`` is given (then nominees in neither list are left as they were).

    Every staff number is checked against the cohort's delegates before anything is written.
    """
    cohort = session.exec(
        select(QsirCohort).where(func.upper(QsirCohort.code) == cohort_code.upper())
    ).first()
    if cohort is None:
        raise NotFoundError(f"no QSIR cohort {cohort_code!r}")
    if session_date not in cohort_dates(cohort):
        raise AttendanceError(
            f"{session_date.isoformat()} is not a teaching day of {cohort.code} "
            f"({', '.join(cohort.session_dates)})"
        )
    rows = session.exec(
        select(QsirNomination, StaffMember)
        .where(QsirNomination.cohort_id == cohort.id, QsirNomination.staff_id == StaffMember.id)
        .where(col(QsirNomination.status).in_([*ACTIVE, NominationStatus.completed]))
    ).all()
    delegates = {staff.staff_number.upper(): (n, staff) for n, staff in rows}
    wanted_present = [p.upper() for p in present]
    wanted_absent = (
        [a.upper() for a in absent]
        if absent is not None
        else [s for s in delegates if s not in wanted_present]
    )
    unknown = [s for s in (*wanted_present, *wanted_absent) if s not in delegates]
    if unknown:
        raise AttendanceError(
            f"staff number(s) {', '.join(unknown)} are not booked on {cohort.code} "
            f"(its delegates: {', '.join(sorted(delegates)) or 'none'})"
        )
    both = sorted(set(wanted_present) & set(wanted_absent))
    if both:
        raise AttendanceError(f"staff number(s) {', '.join(both)} are both present and absent")
    if not wanted_present and not wanted_absent:
        raise AttendanceError(f"the register for {cohort.code} names nobody")
    for number in wanted_present:
        record_attendance(session, require_id(delegates[number][0]), session_date, True)
    for number in wanted_absent:
        record_attendance(session, require_id(delegates[number][0]), session_date, False)
    ward_ids = {delegates[s][0].ward_id for s in (*wanted_present, *wanted_absent)}
    wards = session.exec(select(Ward.code).where(col(Ward.id).in_(ward_ids))).all()
    return RegisterResult(
        cohort.code,
        session_date,
        [delegates[s][1].staff_number for s in wanted_present],
        [delegates[s][1].staff_number for s in wanted_absent],
        sorted(wards),
    )


def read_register_file(path: Path) -> tuple[list[str], list[str]]:
    """A register sheet: ``staff_number`` and optional ``attended`` (blank/yes = present).

    Returns (present, absent); any bad cell rejects the whole file, naming its row and column.
    """
    table = read_table(path, REGISTER_COLUMNS, ("staff_number",))
    present: list[str] = []
    absent: list[str] = []
    problems: list[RowProblem] = []
    for row, values in table.rows:
        number = values.get("staff_number", "")
        mark = values.get("attended", "").strip().lower()
        if not number:
            problems.append(RowProblem(row, table.columns["staff_number"], "staff number is empty"))
        elif mark in _YES:
            present.append(number)
        elif mark in _NO:
            absent.append(number)
        else:
            problems.append(
                RowProblem(
                    row, table.columns["attended"], f"{mark!r} is not yes/no (present/absent)"
                )
            )
    if problems:
        raise InputFileError(path, problems)
    if not present and not absent:
        raise InputFileError(path, [RowProblem(None, None, "the register has no rows")])
    return present, absent
