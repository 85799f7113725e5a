"""The QSIR nomination lifecycle: its statuses, the allowed moves between them, and lookup."""

from __future__ import annotations

from sqlmodel import Session

from wardprog.errors import NotFoundError, WardprogError
from wardprog.models import (
    NominationStatus,
    QsirNomination,
)

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
