"""QSIR nominations withdrawn, deferred or put back in the queue (a reason is always kept)."""

from __future__ import annotations

from sqlmodel import Session

from wardprog.models import (
    NominationStatus,
    QsirNomination,
)
from wardprog.services.qsir.invites import _notify_cancellation
from wardprog.services.qsir.lifecycle import (
    ACTIVE,
    NominationStateError,
    _transition,
    get_nomination,
)


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
