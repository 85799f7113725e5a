"""QSIR seat allocation: every pending or waitlisted nomination gets the earliest cohort with room.

Fairly across wards and sites (``rules/cohorts.py`` decides); the seats are counted with the
cohort rows locked so two wards' stages committing at once cannot overfill a cohort.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

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
    all_pending = session.exec(
        select(QsirNomination, Ward.code, Site.code)
        .where(QsirNomination.ward_id == Ward.id, Ward.site_id == Site.id)
        .where(col(QsirNomination.status).in_(PENDING))
    ).all()
    if not all_pending:
        return result
    place = {n.id: (ward_code, site_code) for n, ward_code, site_code in all_pending}
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

    def seq(n: QsirNomination) -> int:
        # People already waiting keep their place ahead of new nominations.
        if n.status == NominationStatus.waitlisted and n.waitlist_position is not None:
            return n.waitlist_position
        return 10_000_000 + (n.id or 0)

    for course in Course:
        pending = [n for n, _, _ in all_pending if n.course == course]
        if not pending:
            continue
        cohorts = [c for c in all_cohorts if c.course == course]
        taken = taken_by_course[course]
        requests = [
            rules.SeatRequest(
                key=require_id(n),
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
    # Held while the messages are written, so each nominee and ward is read once, not per message.
    result.held = [*all_cohorts, *load_people(session, result.booked + result.waitlisted)]
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
