"""QSIR messages: booking confirmations with .ics invites, waitlist notes, cancellations, reminders.

Every message uses a stable idempotency key, so running any function again enqueues nothing new.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, SQLModel, col, select

from wardprog.config import LONDON
from wardprog.errors import NotFoundError
from wardprog.models import (
    Course,
    QsirCohort,
    QsirNomination,
    StaffMember,
    Ward,
)
from wardprog.notify.ics import CalendarEvent, build_calendar
from wardprog.notify.outbox import Attachment, enqueue_new
from wardprog.services.qsir.cohorts import cohort_dates
from wardprog.services.qsir.lifecycle import ACTIVE

# QSIR teaching days run 09:00-16:30.
SESSION_START = time(9, 0)


SESSION_END = time(16, 30)


REMINDER_DAYS_BEFORE = 3


COURSE_TITLES = {
    Course.practitioner: "QSIR Practitioner",
    Course.fundamentals: "QSIR Fundamentals",
}


def _people(session: Session, nomination: QsirNomination) -> tuple[StaffMember, Ward]:
    staff = session.get(StaffMember, nomination.staff_id)
    ward = session.get(Ward, nomination.ward_id)
    if staff is None or ward is None:
        raise NotFoundError(f"nomination {nomination.id} refers to a missing staff member or ward")
    return staff, ward


def load_people(session: Session, nominations: Sequence[QsirNomination]) -> list[object]:
    """Read the nominees and wards of ``nominations`` in at most two statements.

    The session's identity map holds objects weakly: the caller keeps the returned list while
    it writes the messages, so each :func:`_people` lookup is answered from it, not re-read.
    """
    return held(session, StaffMember, {n.staff_id for n in nominations}) + held(
        session, Ward, {n.ward_id for n in nominations}
    )


def held(session: Session, model: type[SQLModel], ids: Iterable[int | None]) -> list[object]:
    """The ``model`` rows with ``ids``: those the session holds, the rest in one statement."""
    found: list[object] = []
    missing: set[int] = set()
    for id_ in ids:
        if id_ is None:
            continue
        obj = session.identity_map.get(identity_key(model, id_))
        if obj is None:
            missing.add(id_)
        else:
            found.append(obj)
    if missing:
        pk = col(model.id)  # type: ignore[attr-defined]
        found += session.exec(select(model).where(pk.in_(missing))).all()
    return found


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


def _invite_attachment(
    cohort: QsirCohort,
    staff: StaffMember,
    ward: Ward,
    filename: str,
    *,
    method: str = "REQUEST",
    stamp: datetime | None = None,
) -> Attachment:
    """The booking's .ics as a mail attachment; its content type names the calendar's method."""
    return Attachment(
        filename=filename,
        content=booking_invite(cohort, staff, ward, stamp, method=method),
        content_type=f"text/calendar; method={method}",
    )


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
        attachments=[_invite_attachment(cohort, staff, ward, f"{cohort.code}.ics", stamp=stamp)],
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
    return enqueue_new(session, key=key, **kwargs) is not None


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
            _invite_attachment(cohort, staff, ward, f"{cohort.code}-cancelled.ics", method="CANCEL")
        ],
    )


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
