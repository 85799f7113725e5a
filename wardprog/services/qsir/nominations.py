"""QSIR training: nominations, cohort bookings, attendance and completion.

The QSIR stage is the last of a ward's four: the ward manager nominates staff (two per ward by
default) for QSIR Practitioner by returning a nomination file to the ward's inbox folder (or
through the Prefect form, which writes the same file). Nominations need the manager's
approval because the ward releases the nominee for five study days. Each nomination is then
given a seat on the earliest cohort with room, fairly across wards and sites, or waitlisted.

Everything here runs in the caller's transaction and only flushes. Every notification uses a
stable idempotency key, so running any function again writes and sends nothing new.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from wardprog.config import Settings
from wardprog.errors import InputFileError, NotFoundError, RowProblem, WardprogError
from wardprog.models import (
    Course,
    NominationStatus,
    QsirAttendance,
    QsirCohort,
    QsirNomination,
    Site,
    StaffMember,
    Ward,
    Wave,
)
from wardprog.notify.ics import CalendarEvent, build_calendar
from wardprog.notify.outbox import Attachment, enqueue
from wardprog.rules import cohorts as rules
from wardprog.services.context import StageContext, StageOutcome
from wardprog.services.inbox import file_on_commit, inbox_folder, quarantine, returned_files
from wardprog.services.staff_register import read_table
from wardprog.sources.tabular import write_csv

LONDON = ZoneInfo("Europe/London")
# QSIR teaching days run 09:00-16:30.
SESSION_START = time(9, 0)
SESSION_END = time(16, 30)
# Cohorts are published a year ahead so rosters can release nominees; anyone who does not fit
# in that year's cohorts waits on the waitlist until the next cohort is planned.
COHORT_HORIZON_DAYS = 365
REMINDER_DAYS_BEFORE = 3
NOMINATION_INBOX = "qsir"
NOMINATION_WHAT = "QSIR nomination file"

COURSE_TITLES = {
    Course.practitioner: "QSIR Practitioner",
    Course.fundamentals: "QSIR Fundamentals",
}
NOMINATION_COLUMNS: dict[str, tuple[str, ...]] = {
    "staff_number": ("staff_number", "employee_number", "assignment_number", "esr_number"),
    "course": ("course", "programme", "qsir_course"),
    "approved_by": ("approved_by", "manager_approval", "approved", "approver"),
    "notes": ("notes", "comments", "reason"),
}
REQUIRED_NOMINATION_COLUMNS = ("staff_number", "course", "approved_by")
ACTIVE = (NominationStatus.booked, NominationStatus.attending)
PENDING = (NominationStatus.nominated, NominationStatus.waitlisted)

# The lifecycle; anything else is a mistake a user should hear about.
TRANSITIONS: dict[NominationStatus, frozenset[NominationStatus]] = {
    NominationStatus.nominated: frozenset(
        {
            NominationStatus.booked,
            NominationStatus.waitlisted,
            NominationStatus.withdrawn,
            NominationStatus.deferred,
        }
    ),
    NominationStatus.waitlisted: frozenset(
        {NominationStatus.booked, NominationStatus.withdrawn, NominationStatus.deferred}
    ),
    NominationStatus.booked: frozenset(
        {NominationStatus.attending, NominationStatus.withdrawn, NominationStatus.deferred}
    ),
    NominationStatus.attending: frozenset(
        {NominationStatus.completed, NominationStatus.withdrawn, NominationStatus.deferred}
    ),
    # A deferred nominee can be put back in the queue for a later cohort.
    NominationStatus.deferred: frozenset({NominationStatus.nominated, NominationStatus.withdrawn}),
    NominationStatus.completed: frozenset(),
    NominationStatus.withdrawn: frozenset(),
}


class NominationStateError(WardprogError):
    """A nomination cannot move to the requested status from where it is."""


class AttendanceError(WardprogError):
    """An attendance or project record does not fit the nomination's cohort."""


# --- nomination returns ----------------------------------------------------------------------


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
    ward_codes = {w.id: w.code for w in session.exec(select(Ward)).all()}

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
                staff_id=member.id,  # type: ignore[arg-type]
                ward_id=ward.id,  # type: ignore[arg-type]
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


# --- cohorts ---------------------------------------------------------------------------------


def ensure_cohorts(
    session: Session, settings: Settings, as_of: date, horizon_days: int = COHORT_HORIZON_DAYS
) -> list[QsirCohort]:
    """Create the cohorts starting within ``horizon_days`` after ``as_of`` that do not exist yet.

    Cohort codes are stable, so this is idempotent; a concurrent run that inserted the same
    cohort first is tolerated (savepoint per cohort).
    """
    until = as_of + timedelta(days=horizon_days)
    closed = rules.england_bank_holidays(range(as_of.year, until.year + 2))
    plans = rules.plan_practitioner_cohorts(
        as_of, until, settings.qsir_cohort_capacity, closed
    ) + rules.plan_fundamentals_sessions(as_of, until, settings.qsir_cohort_capacity, closed)
    codes = [p.code for p in plans]
    have = {
        c.code
        for c in session.exec(select(QsirCohort).where(col(QsirCohort.code).in_(codes))).all()
    }
    created = []
    for plan in plans:
        if plan.code in have:
            continue
        cohort = QsirCohort(
            code=plan.code,
            course=Course(plan.course),
            start_date=plan.start_date,
            capacity=plan.capacity,
            session_dates=[d.isoformat() for d in plan.session_dates],
        )
        try:
            with session.begin_nested():
                session.add(cohort)
                session.flush()
        except IntegrityError:
            continue
        created.append(cohort)
    return created


def cohort_dates(cohort: QsirCohort) -> list[date]:
    return [date.fromisoformat(d) for d in cohort.session_dates]


# --- allocation ------------------------------------------------------------------------------


@dataclass
class AllocationResult:
    booked: list[QsirNomination] = field(default_factory=list)
    waitlisted: list[QsirNomination] = field(default_factory=list)


def allocate_pending(session: Session, settings: Settings, as_of: date) -> AllocationResult:
    """Give every pending or waitlisted nomination the earliest cohort with a free seat.

    The seat count is read with the cohort rows locked (``FOR UPDATE`` on PostgreSQL), so two
    wards' stages committing at once cannot overfill a cohort. Newly booked nominees and their
    managers get a booking confirmation with the dates; newly waitlisted ones are told so.
    """
    result = AllocationResult()
    for course in Course:
        cohorts = session.exec(
            select(QsirCohort)
            .where(QsirCohort.course == course)
            .order_by(col(QsirCohort.id))
            .with_for_update()
        ).all()
        pending_rows = session.exec(
            select(QsirNomination, Ward.code, Site.code)
            .where(QsirNomination.ward_id == Ward.id, Ward.site_id == Site.id)
            .where(QsirNomination.course == course, col(QsirNomination.status).in_(PENDING))
        ).all()
        if not pending_rows:
            continue
        pending = [n for n, _, _ in pending_rows]
        place = {n.id: (ward_code, site_code) for n, ward_code, site_code in pending_rows}
        # Aggregate in the database and only for the wards asking now: this runs once per ward
        # stage, so reading every nomination and ward here would make a rollout quadratic.
        active = (QsirNomination.course == course, col(QsirNomination.status).in_(ACTIVE))
        taken = Counter(
            dict(
                session.exec(
                    select(QsirNomination.cohort_id, func.count())
                    .where(*active)
                    .group_by(col(QsirNomination.cohort_id))
                ).all()
            )
        )
        ward_load = Counter(
            dict(
                session.exec(
                    select(Ward.code, func.count())
                    .where(QsirNomination.ward_id == Ward.id, *active)
                    .where(col(Ward.code).in_({w for w, _ in place.values()}))
                    .group_by(col(Ward.code))
                ).all()
            )
        )

        def seq(n: QsirNomination) -> int:
            # People already waiting keep their place ahead of new nominations.
            if n.status == NominationStatus.waitlisted and n.waitlist_position is not None:
                return n.waitlist_position
            return 10_000_000 + (n.id or 0)

        requests = [
            rules.SeatRequest(
                key=n.id,  # type: ignore[arg-type]
                ward=place[n.id][0],
                site=place[n.id][1],
                seq=seq(n),
            )
            for n in pending
        ]
        seats = [
            rules.CohortSeats(c.code, c.start_date, c.capacity, taken.get(c.id, 0)) for c in cohorts
        ]
        allocation = rules.allocate(requests, seats, as_of, ward_load)
        by_id = {n.id: n for n in pending}
        by_code = {c.code: c for c in cohorts}
        for key in allocation.order:
            nomination = by_id[key]
            if key in allocation.booked:
                cohort = by_code[allocation.booked[key]]
                _transition(nomination, NominationStatus.booked)
                nomination.cohort_id = cohort.id
                nomination.waitlist_position = None
                nomination.booked_on = as_of
                session.add(nomination)
                result.booked.append(nomination)
        for position, key in enumerate(allocation.waitlist, start=1):
            nomination = by_id[key]
            if nomination.status != NominationStatus.waitlisted:
                _transition(nomination, NominationStatus.waitlisted)
                result.waitlisted.append(nomination)
            nomination.waitlist_position = position
            session.add(nomination)
        session.flush()
    for nomination in result.booked:
        notify_booking(session, nomination, as_of)
    for nomination in result.waitlisted:
        notify_waitlisted(session, nomination)
    return result


def refresh_allocations(session: Session, settings: Settings, as_of: date) -> AllocationResult:
    """Plan cohorts up to a year ahead of ``as_of`` and seat whoever is waiting.

    Run on every tick of the clock: as new cohorts come into the planning horizon, or seats free
    up through withdrawals and deferrals, the waitlist is booked in order.
    """
    ensure_cohorts(session, settings, as_of)
    return allocate_pending(session, settings, as_of)


# --- notifications ---------------------------------------------------------------------------


def _people(session: Session, nomination: QsirNomination) -> tuple[StaffMember, Ward]:
    staff = session.get(StaffMember, nomination.staff_id)
    ward = session.get(Ward, nomination.ward_id)
    if staff is None or ward is None:
        raise NotFoundError(f"nomination {nomination.id} refers to a missing staff member or ward")
    return staff, ward


def _recipients(staff: StaffMember, ward: Ward) -> list[str]:
    return [e for e in dict.fromkeys([staff.email, ward.manager_email]) if e]


def session_times(day: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(day, SESSION_START, tzinfo=LONDON),
        datetime.combine(day, SESSION_END, tzinfo=LONDON),
    )


def booking_invite(
    cohort: QsirCohort,
    staff: StaffMember,
    ward: Ward,
    stamp: datetime | None = None,
    method: str = "REQUEST",
) -> bytes:
    """One VEVENT per teaching day; UIDs are stable per person per day so updates replace.

    ``method="CANCEL"`` withdraws the same events (a higher SEQUENCE, the same UIDs), which is
    how calendar clients remove a booking rather than add a second copy.
    """
    title = COURSE_TITLES[cohort.course]
    dates = cohort_dates(cohort)
    events = []
    for n, day in enumerate(dates, start=1):
        start, end = session_times(day)
        events.append(
            CalendarEvent(
                uid=f"{cohort.code}-s{n}-{staff.staff_number}@wardprog".lower(),
                summary=f"{title} ({cohort.code}) - day {n} of {len(dates)}",
                starts_at=start,
                ends_at=end,
                location=cohort.venue,
                description=(
                    f"{title} teaching day {n} of {len(dates)} for {staff.name} ({ward.name}). "
                    "Please bring your improvement project notes."
                ),
                attendees=tuple(_recipients(staff, ward)),
                stamp=stamp,
                sequence=1 if method == "CANCEL" else 0,
            )
        )
    return build_calendar(events, method=method)


def notify_booking(session: Session, nomination: QsirNomination, as_of: date) -> bool:
    """Enqueue the booking confirmation (with the .ics) once; True if newly enqueued."""
    staff, ward = _people(session, nomination)
    cohort = session.get(QsirCohort, nomination.cohort_id)
    if cohort is None:
        raise NotFoundError(f"nomination {nomination.id} is not booked on a cohort")
    stamp = datetime.combine(as_of, time(0), tzinfo=UTC)
    dates = cohort_dates(cohort)
    return _to_nominee(
        session,
        staff,
        ward,
        kind="qsir_booking",
        key_suffix=f"{cohort.code}:v0",
        course=cohort.course,
        context={
            "staff_number": staff.staff_number,
            "ward_code": ward.code,
            "cohort_code": cohort.code,
            "venue": cohort.venue,
            "sessions": [
                {"number": n, "date": d, "start": SESSION_START, "end": SESSION_END}
                for n, d in enumerate(dates, start=1)
            ],
            "start_time": SESSION_START.strftime("%H:%M"),
            "end_time": SESSION_END.strftime("%H:%M"),
        },
        attachments=[
            Attachment(
                filename=f"{cohort.code}.ics",
                content=booking_invite(cohort, staff, ward, stamp),
                content_type="text/calendar; method=REQUEST",
            )
        ],
    )


def notify_waitlisted(session: Session, nomination: QsirNomination) -> bool:
    staff, ward = _people(session, nomination)
    return _to_nominee(
        session,
        staff,
        ward,
        kind="qsir_waitlisted",
        key_suffix=f"{nomination.course.value}:v0",
        course=nomination.course,
        context={"position": nomination.waitlist_position},
    )


def _to_nominee(
    session: Session,
    staff: StaffMember,
    ward: Ward,
    *,
    kind: str,
    key_suffix: str,
    course: Course,
    context: dict[str, Any],
    attachments: Sequence[Attachment] = (),
) -> bool:
    """A message about one nominee to them and their ward manager, once per key."""
    return _enqueue_once(
        session,
        key=f"{kind}:{ward.code}:{staff.staff_number}:{key_suffix}",
        kind=kind,
        tags=[ward.code],
        ward_code=ward.code,
        recipients=_recipients(staff, ward),
        context={
            "staff_name": staff.name,
            "ward_name": ward.name,
            "manager_name": ward.manager_name,
            "course_title": COURSE_TITLES[course],
            **context,
        },
        attachments=attachments,
    )


def _enqueue_once(session: Session, *, key: str, **kwargs: Any) -> bool:
    from wardprog.models import Notification

    exists = session.exec(
        select(Notification.id).where(Notification.idempotency_key == key)
    ).first()
    if exists is not None:
        return False
    enqueue(session, key=key, **kwargs)
    return True


# --- the stage -------------------------------------------------------------------------------


def ward_nominations(session: Session, ward_id: int, wave_id: int | None) -> list[QsirNomination]:
    return list(
        session.exec(
            select(QsirNomination)
            .where(QsirNomination.ward_id == ward_id, QsirNomination.wave_id == wave_id)
            .order_by(col(QsirNomination.id))
        ).all()
    )


def run_qsir_stage(ctx: StageContext) -> StageOutcome:
    """Record the ward's QSIR nominations and book them onto cohorts.

    Waits (``done=False``) until the ward manager has returned the nomination file. Once the
    ward's nominations are recorded the file moves to ``processed/`` and is not read again, so a
    re-run returns the same rows, allocates only what is still pending and enqueues nothing new.
    A file that fails validation is quarantined in ``rejected/`` with one message to the ward
    manager and the improvement team (``services/inbox.py``); the stage waits for a new file.
    """
    session, ward, wave = ctx.session, ctx.ward, ctx.wave
    assert ward.id is not None
    nominations = ward_nominations(session, ward.id, wave.id)
    source: Path | None = None
    rejected: list[dict[str, Any]] = []
    if not nominations:
        for returned in returned_files(nomination_inbox(ctx.settings, ward.code)):
            try:
                lines = read_nomination_return(returned.path, returned.data)
                nominations = record_nominations(
                    session,
                    ctx.settings,
                    ward=ward,
                    wave=wave,
                    lines=lines,
                    source=returned.path,
                    as_of=ctx.as_of,
                )
            except InputFileError as err:
                # A poison file is answered once and set aside; the stage waits for a new one.
                quarantine(session, returned, err, what=NOMINATION_WHAT, ward=ward, site=ctx.site)
                problems = [
                    {"row": p.row, "column": p.column, "message": p.message} for p in err.problems
                ]
                rejected.append({"file": returned.name, "problems": problems})
                continue
            file_on_commit(session, returned)
            source = returned.path
            break
    if not nominations:
        inbox = nomination_inbox(ctx.settings, ward.code)
        who = ward.manager_name or "the ward manager"
        summary = (
            f"nomination file rejected ({len(rejected)}); waiting for {who} to send a "
            f"corrected file to {inbox}"
            if rejected
            else f"waiting for {who} to return QSIR nominations to {inbox}"
        )
        return StageOutcome(
            done=False, summary=summary, details={"inbox": str(inbox), "rejected": rejected}
        )
    ensure_cohorts(session, ctx.settings, ctx.as_of)
    allocate_pending(session, ctx.settings, ctx.as_of)
    return _stage_outcome(session, nominations, source)


def _stage_outcome(
    session: Session, nominations: list[QsirNomination], source: Path | None
) -> StageOutcome:
    cohorts = {c.id: c for c in session.exec(select(QsirCohort)).all()}
    details: list[dict[str, Any]] = []
    for n in nominations:
        staff, _ = _people(session, n)
        cohort = cohorts.get(n.cohort_id)
        details.append(
            {
                "nomination_id": n.id,
                "staff_number": staff.staff_number,
                "name": staff.name,
                "course": n.course.value,
                "status": n.status.value,
                "cohort": cohort.code if cohort else None,
                "starts": cohort.start_date.isoformat() if cohort else None,
                "waitlist_position": n.waitlist_position,
            }
        )
    counts = Counter(n.status.value for n in nominations)
    summary = f"{len(nominations)} nominated: " + ", ".join(
        f"{v} {k}" for k, v in sorted(counts.items())
    )
    booked = sorted({d["cohort"] for d in details if d["cohort"]})
    if booked:
        summary += f" ({', '.join(booked)})"
    return StageOutcome(
        done=all(n.status != NominationStatus.nominated for n in nominations),
        summary=summary,
        details={"nominations": details, "source": str(source) if source else None},
    )


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


# --- lifecycle -------------------------------------------------------------------------------


def _transition(nomination: QsirNomination, to: NominationStatus) -> None:
    allowed = TRANSITIONS[nomination.status]
    if to not in allowed:
        options = ", ".join(sorted(s.value for s in allowed)) or "none"
        raise NominationStateError(
            f"nomination {nomination.id} is {nomination.status.value}; it cannot become "
            f"{to.value} (allowed: {options})"
        )
    nomination.status = to


def get_nomination(session: Session, nomination_id: int) -> QsirNomination:
    nomination = session.get(QsirNomination, nomination_id)
    if nomination is None:
        raise NotFoundError(f"no QSIR nomination with id {nomination_id}")
    return nomination


def _close(
    session: Session, nomination_id: int, to: NominationStatus, reason: str
) -> QsirNomination:
    if not reason.strip():
        raise NominationStateError(f"a reason is required to mark a nomination {to.value}")
    nomination = get_nomination(session, nomination_id)
    held_seat = nomination.status in ACTIVE and nomination.cohort_id is not None
    _transition(nomination, to)
    nomination.reason = reason.strip()
    # The seat is freed because only booked/attending nominations hold seats; cohort_id stays
    # as the record of which cohort they left.
    nomination.waitlist_position = None
    session.add(nomination)
    session.flush()
    if held_seat:
        _notify_cancellation(session, nomination)
    return nomination


def _notify_cancellation(session: Session, nomination: QsirNomination) -> None:
    """Take the teaching days out of the nominee's and manager's calendars (METHOD:CANCEL)."""
    staff, ward = _people(session, nomination)
    cohort = session.get(QsirCohort, nomination.cohort_id)
    if cohort is None:
        return
    _to_nominee(
        session,
        staff,
        ward,
        kind="qsir_cancelled",
        key_suffix=f"{cohort.code}:v1",
        course=cohort.course,
        context={
            "cohort_code": cohort.code,
            "status": nomination.status.value,
            "reason": nomination.reason,
        },
        attachments=[
            Attachment(
                filename=f"{cohort.code}-cancelled.ics",
                content=booking_invite(cohort, staff, ward, method="CANCEL"),
                content_type="text/calendar; method=CANCEL",
            )
        ],
    )


def withdraw_nomination(session: Session, nomination_id: int, reason: str) -> QsirNomination:
    """The nominee will not do the course (left the trust, changed role...)."""
    return _close(session, nomination_id, NominationStatus.withdrawn, reason)


def defer_nomination(session: Session, nomination_id: int, reason: str) -> QsirNomination:
    """The nominee will do the course later (sickness, staffing); their seat is released."""
    return _close(session, nomination_id, NominationStatus.deferred, reason)


def requeue_nomination(session: Session, nomination_id: int) -> QsirNomination:
    """Put a deferred nominee back in the queue; the next allocation books or waitlists them."""
    nomination = get_nomination(session, nomination_id)
    _transition(nomination, NominationStatus.nominated)
    nomination.cohort_id = None
    nomination.booked_on = None
    session.add(nomination)
    session.flush()
    return nomination


def record_attendance(
    session: Session, nomination_id: int, session_date: date, attended: bool
) -> QsirAttendance:
    """Record (or correct) the register for one teaching day.

    The first register entry moves a booked nominee to attending.
    """
    nomination = get_nomination(session, nomination_id)
    cohort = session.get(QsirCohort, nomination.cohort_id) if nomination.cohort_id else None
    if cohort is None or nomination.status not in (*ACTIVE, NominationStatus.completed):
        raise AttendanceError(
            f"nomination {nomination_id} is {nomination.status.value}; attendance can only be "
            "recorded for nominees booked on a cohort"
        )
    if session_date not in cohort_dates(cohort):
        raise AttendanceError(
            f"{session_date.isoformat()} is not a teaching day of {cohort.code} "
            f"({', '.join(cohort.session_dates)})"
        )
    row = session.exec(
        select(QsirAttendance).where(
            QsirAttendance.nomination_id == nomination_id,
            QsirAttendance.session_date == session_date,
        )
    ).first()
    if row is None:
        row = QsirAttendance(
            nomination_id=nomination_id, session_date=session_date, attended=attended
        )
    row.attended = attended
    session.add(row)
    if nomination.status == NominationStatus.booked:
        _transition(nomination, NominationStatus.attending)
        session.add(nomination)
    session.flush()
    return row


def mark_project_presented(
    session: Session, nomination_id: int, presented_on: date, presented: bool = True
) -> QsirNomination:
    """Record that the nominee presented their improvement project (the QSIR assessment)."""
    nomination = get_nomination(session, nomination_id)
    if nomination.status not in (*ACTIVE, NominationStatus.completed):
        raise AttendanceError(
            f"nomination {nomination_id} is {nomination.status.value}; only booked or attending "
            "nominees present projects"
        )
    nomination.project_presented = presented
    nomination.project_presented_on = presented_on if presented else None
    session.add(nomination)
    session.flush()
    return nomination


FUNDAMENTALS_RULE = rules.CompletionRule(min_sessions_attended=1, require_project=False)


@dataclass
class CompletionReport:
    completed: list[int] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    awaiting_project: list[int] = field(default_factory=list)
    awaiting_register: list[int] = field(default_factory=list)


def evaluate_completion(
    session: Session,
    as_of: date,
    rule: rules.CompletionRule | None = None,
    fundamentals_rule: rules.CompletionRule = FUNDAMENTALS_RULE,
) -> CompletionReport:
    """Apply the completion rule to everyone booked or attending, as of ``as_of``.

    Completed nominees count as trained from the later of their cohort's last day and their
    project presentation. Nominees who can no longer meet the attendance rule are deferred with
    the reason, so they can be requeued for a later cohort. Nobody is judged on a teaching day
    whose register has not been entered yet.
    """
    rule = rule or rules.CompletionRule()
    report = CompletionReport()
    nominations = session.exec(
        select(QsirNomination)
        .where(col(QsirNomination.status).in_(ACTIVE), col(QsirNomination.cohort_id).is_not(None))
        .order_by(col(QsirNomination.id))
    ).all()
    cohorts = {c.id: c for c in session.exec(select(QsirCohort)).all()}
    registers: dict[int, dict[date, bool]] = defaultdict(dict)
    ids = [n.id for n in nominations]
    for a in session.exec(
        select(QsirAttendance).where(col(QsirAttendance.nomination_id).in_(ids))
    ).all():
        registers[a.nomination_id][a.session_date] = a.attended
    for n in nominations:
        assert n.id is not None
        cohort = cohorts[n.cohort_id]
        dates = cohort_dates(cohort)
        past = [d for d in dates if d <= as_of]
        register = registers[n.id]
        if any(d not in register for d in past):
            report.awaiting_register.append(n.id)
            continue
        attended = sum(1 for d in past if register[d])
        applied = rule if n.course == Course.practitioner else fundamentals_rule
        verdict = rules.completion_verdict(
            applied,
            sessions_total=len(dates),
            sessions_past=len(past),
            attended=attended,
            project_presented=n.project_presented,
        )
        if verdict == rules.Verdict.completed:
            if n.status == NominationStatus.booked:
                _transition(n, NominationStatus.attending)
            _transition(n, NominationStatus.completed)
            n.completed_on = max(dates[-1], n.project_presented_on or dates[-1])
            report.completed.append(n.id)
        elif verdict == rules.Verdict.not_met:
            _transition(n, NominationStatus.deferred)
            n.reason = (
                f"attended {attended} of {len(past)} days held so far of {cohort.code} "
                f"({len(dates)} in all); completion needs "
                f"{applied.describe()} - requeue for a later cohort"
            )
            report.deferred.append(n.id)
        elif verdict == rules.Verdict.awaiting_project:
            report.awaiting_project.append(n.id)
        session.add(n)
    session.flush()
    return report


def send_session_reminders(
    session: Session, as_of: date, days_before: int = REMINDER_DAYS_BEFORE
) -> int:
    """Remind booked nominees (and their managers) of each teaching day ``days_before`` ahead.

    Covers every session in (as_of, as_of + days_before], so a daily run reminds each session
    once; the key per person per session day keeps re-runs silent. Returns how many were new.
    """
    window_end = as_of + timedelta(days=days_before)
    sent = 0
    cohorts = session.exec(select(QsirCohort).order_by(col(QsirCohort.start_date))).all()
    for cohort in cohorts:
        dates = cohort_dates(cohort)
        due = [(n, d) for n, d in enumerate(dates, start=1) if as_of < d <= window_end]
        if not due:
            continue
        nominations = session.exec(
            select(QsirNomination)
            .where(QsirNomination.cohort_id == cohort.id, col(QsirNomination.status).in_(ACTIVE))
            .order_by(col(QsirNomination.id))
        ).all()
        for nomination in nominations:
            staff, ward = _people(session, nomination)
            for number, day in due:
                sent += _enqueue_once(
                    session,
                    key=(
                        f"qsir_session_reminder:{ward.code}:{staff.staff_number}:"
                        f"{cohort.code}:s{number}"
                    ),
                    kind="qsir_session_reminder",
                    tags=[ward.code],
                    ward_code=ward.code,
                    recipients=_recipients(staff, ward),
                    context={
                        "staff_name": staff.name,
                        "ward_name": ward.name,
                        "course_title": COURSE_TITLES[cohort.course],
                        "cohort_code": cohort.code,
                        "session_number": number,
                        "session_count": len(dates),
                        "session_date": day,
                        "start_time": SESSION_START.strftime("%H:%M"),
                        "end_time": SESSION_END.strftime("%H:%M"),
                        "venue": cohort.venue,
                    },
                )
    return sent
