"""QSIR seat allocation: every pending or waitlisted nomination gets the earliest cohort with room.

Fairly across wards and sites (``rules/cohorts.py`` decides); the seats are counted with the
cohort rows locked so two wards' stages committing at once cannot overfill a cohort.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm.util import identity_key
from sqlmodel import Session, col, func, select

from wardprog.config import Settings
from wardprog.models import (
    Course,
    NominationStatus,
    QsirCohort,
    QsirNomination,
    Site,
    Ward,
)
from wardprog.rules import cohorts as rules
from wardprog.services.context import require_id
from wardprog.services.qsir.cohorts import ensure_cohorts
from wardprog.services.qsir.invites import load_people, notify_booking, notify_waitlisted
from wardprog.services.qsir.lifecycle import ACTIVE, PENDING, _transition


@dataclass
class AllocationResult:
    booked: list[QsirNomination] = field(default_factory=list)
    waitlisted: list[QsirNomination] = field(default_factory=list)
    # The cohorts, nominees and wards read on the way: kept so a caller's session answers
    # ``session.get`` for them from its (weak) identity map instead of reading them again.
    held: list[object] = field(default_factory=list, repr=False, compare=False)


@dataclass(frozen=True)
class _Waiting:
    """A pending or waitlisted nomination as the allocation reads it (columns, not a row)."""

    id: int
    course: Course
    status: NominationStatus
    waitlist_position: int | None
    nominated_on: date | None
    ward_code: str
    site_code: str


def _rows(session: Session, ids: set[int]) -> dict[int, QsirNomination]:
    """The nominations with ``ids`` as mapped rows, in one statement (none when ``ids`` is empty).

    Rows the session already holds (a ward's nominations just recorded) come back as the same
    objects, so their changes are flushed once.
    """
    if not ids:
        return {}
    rows = session.exec(select(QsirNomination).where(col(QsirNomination.id).in_(ids))).all()
    return {require_id(n): n for n in rows}


def allocate_pending(session: Session, settings: Settings, as_of: date) -> AllocationResult:
    """Give every pending or waitlisted nomination the earliest cohort with a free seat.

    The seat count is read with the cohort rows locked (``FOR UPDATE`` on PostgreSQL), so two
    wards' stages committing at once cannot overfill a cohort. Newly booked nominees and their
    managers get a booking confirmation with the dates; newly waitlisted ones are told so.
    """
    result = AllocationResult()
    # One read of each kind for both courses (not one per course): this runs on every ward's
    # QSIR stage, and each statement is paid once per ward.
    all_cohorts = session.exec(
        select(QsirCohort).order_by(col(QsirCohort.id)).with_for_update()
    ).all()
    # The waitlist as plain columns, not mapped rows: every waiting nomination in the trust is
    # read on every ward's QSIR stage, and building (then flushing) hundreds of ORM objects per
    # ward made the stage grow with the waitlist. Rows are loaded only for the nominations
    # whose booking or place in line changes (below).
    all_pending = [
        _Waiting(id_, Course(course), NominationStatus(status), position, on, ward_code, site)
        # SQLAlchemy's select (through ``Session.execute``): SQLModel's takes at most four columns.
        for id_, course, status, position, on, ward_code, site in session.execute(
            sa.select(
                col(QsirNomination.id),
                col(QsirNomination.course),
                col(QsirNomination.status),
                col(QsirNomination.waitlist_position),
                col(QsirNomination.nominated_on),
                col(Ward.code),
                col(Site.code),
            )
            .where(col(QsirNomination.ward_id) == col(Ward.id), col(Ward.site_id) == col(Site.id))
            .where(col(QsirNomination.status).in_(PENDING))
        ).all()
    ]
    if not all_pending:
        return result
    place = {n.id: (n.ward_code, n.site_code) for n in all_pending}
    # Aggregate in the database and only for the wards asking now: this runs once per ward
    # stage, so reading every nomination and ward here would make a rollout quadratic.
    active = col(QsirNomination.status).in_(ACTIVE)
    taken_by_course: dict[Course, Counter[int | None]] = defaultdict(Counter)
    for course, cohort_id, count in session.exec(
        select(QsirNomination.course, QsirNomination.cohort_id, func.count())
        .where(active)
        .group_by(col(QsirNomination.course), col(QsirNomination.cohort_id))
    ).all():
        taken_by_course[Course(course)][cohort_id] = count
    load_by_course: dict[Course, Counter[str]] = defaultdict(Counter)
    for course, ward_code, count in session.exec(
        select(QsirNomination.course, Ward.code, func.count())
        .where(QsirNomination.ward_id == Ward.id, active)
        .where(col(Ward.code).in_({w for w, _ in place.values()}))
        .group_by(col(QsirNomination.course), col(Ward.code))
    ).all():
        load_by_course[Course(course)][ward_code] = count

    def seq_of_waiter(n: _Waiting) -> int | None:
        if n.status == NominationStatus.waitlisted and n.waitlist_position is not None:
            return n.waitlist_position
        return None

    # New nominations claim seats in the order they were made: by day, then ward by ward in
    # code order, each ward's in its file's order. Not by id: a wave's wards record theirs
    # concurrently, so which ward's rows got the lower ids is chance.
    claims = sorted(
        (n for n in all_pending if seq_of_waiter(n) is None),
        key=lambda n: (n.nominated_on or date.min, n.ward_code, n.id),
    )
    claim_rank = {n.id: rank for rank, n in enumerate(claims)}

    def seq(n: _Waiting) -> int:
        # People already waiting keep their place ahead of new nominations.
        waiter = seq_of_waiter(n)
        return waiter if waiter is not None else 10_000_000 + claim_rank[n.id]

    for course in Course:
        pending = [n for n in all_pending if n.course == course]
        if not pending:
            continue
        cohorts = [c for c in all_cohorts if c.course == course]
        taken = taken_by_course[course]
        requests = [
            rules.SeatRequest(
                key=n.id,
                ward=place[n.id][0],
                site=place[n.id][1],
                seq=seq(n),
            )
            for n in pending
        ]
        seats = [
            rules.CohortSeats(c.code, c.start_date, c.capacity, taken.get(c.id, 0)) for c in cohorts
        ]
        allocation = rules.allocate(requests, seats, as_of, load_by_course[course])
        waiting = {n.id: n for n in pending}
        by_code = {c.code: c for c in cohorts}
        # Only the nominations that change are written: whoever is booked now, whoever joins
        # the waitlist, and whoever moves in it. A waiter whose place is unchanged is neither
        # read as a row nor updated. A waiter who only moves (a new ward's first nominee goes
        # ahead of another ward's third, so a long waitlist shifts on most wards' stages) gets
        # one bulk UPDATE of its position, not a mapped row and a unit-of-work flush each,
        # unless this session holds its row (then the row is changed, so it reads true).
        places = dict(enumerate(allocation.waitlist, start=1))
        joined = {k for k in places.values() if waiting[k].status != NominationStatus.waitlisted}
        shifted = {
            key: position
            for position, key in places.items()
            if key not in joined and waiting[key].waitlist_position != position
        }
        held_here = {k for k in shifted if identity_key(QsirNomination, k) in session.identity_map}
        moved = joined | held_here
        if len(shifted) > len(held_here):
            session.execute(
                sa.update(QsirNomination),
                [
                    {"id": key, "waitlist_position": position}
                    for key, position in shifted.items()
                    if key not in held_here
                ],
            )
        by_id = _rows(session, set(allocation.booked) | moved)
        for key in allocation.order:
            if key in allocation.booked:
                nomination = by_id[key]
                cohort = by_code[allocation.booked[key]]
                _transition(nomination, NominationStatus.booked)
                nomination.cohort_id = cohort.id
                nomination.waitlist_position = None
                nomination.booked_on = as_of
                session.add(nomination)
                result.booked.append(nomination)
        for position, key in places.items():
            if key not in moved:
                continue  # unchanged, or its position updated in bulk above
            nomination = by_id[key]
            if nomination.status != NominationStatus.waitlisted:
                _transition(nomination, NominationStatus.waitlisted)
                result.waitlisted.append(nomination)
            nomination.waitlist_position = position
            session.add(nomination)
        session.flush()
    # Held while the messages are written, so each nominee and ward is read once, not per message.
    result.held = [*all_cohorts, *load_people(session, result.booked + result.waitlisted)]
    for nomination in result.booked:
        notify_booking(session, nomination, as_of)
    for nomination in result.waitlisted:
        notify_waitlisted(session, nomination)
    return result


def seat_new_nominations(
    session: Session, settings: Settings, as_of: date
) -> AllocationResult | None:
    """A wave's shared QSIR step: seat every nomination not yet allocated, all in one pass.

    Run once its wards have recorded theirs (``services/enrolment.after_stage``), so the
    fairness rule shares the cohorts across the wave's wards and sites, and the waitlist is read
    once, not once per ward. ``None`` (one read, nothing written) when no nomination is new: the
    waitlist is otherwise seated by ``refresh_allocations`` on its weekly run, as before. A run
    that crashed before this step leaves its nominations new, and the next run seats them.
    """
    new = session.exec(
        select(QsirNomination.id).where(QsirNomination.status == NominationStatus.nominated)
    ).first()
    if new is None:
        return None
    ensure_cohorts(session, settings, as_of)
    return allocate_pending(session, settings, as_of)


def refresh_allocations(session: Session, settings: Settings, as_of: date) -> AllocationResult:
    """Plan cohorts up to a year ahead of ``as_of`` and seat whoever is waiting.

    Run on every tick of the clock: as new cohorts come into the planning horizon, or seats free
    up through withdrawals and deferrals, the waitlist is booked in order.
    """
    ensure_cohorts(session, settings, as_of)
    return allocate_pending(session, settings, as_of)
