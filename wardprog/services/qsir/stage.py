"""The QSIR stage, the last of a ward's four: record the returned nominations and book them.

Two doors, one record step. A wave's run takes each ward's nominations (:func:`take_nominations`,
concurrently) and seats the whole wave's at once afterwards, in its shared step
(``allocation.seat_new_nominations``): the fairness rule ("every ward its k-th seat before any
its (k+1)-th, sites in turn") is applied across the wave rather than to whichever ward's file
was read first, and the trust's waitlist is read once per run, not once per ward. A ward on its
own (the nominate-ward flow, the Prefect form) records and books at once (:func:`run_qsir_stage`).

Runs in the caller's transaction and only flushes; a re-run returns the same rows, allocates only
what is still pending and enqueues nothing new.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from wardprog.errors import InputFileError
from wardprog.models import (
    NominationStatus,
    QsirCohort,
    QsirNomination,
)
from wardprog.services.context import StageContext, StageOutcome, require_id
from wardprog.services.inbox import file_on_commit, quarantine, returned_files
from wardprog.services.qsir.allocation import allocate_pending
from wardprog.services.qsir.cohorts import ensure_cohorts
from wardprog.services.qsir.invites import _people, held, load_people
from wardprog.services.qsir.nominations import (
    NOMINATION_WHAT,
    nomination_inbox,
    read_nomination_return,
    record_nominations,
)


def ward_nominations(session: Session, ward_id: int, wave_id: int | None) -> list[QsirNomination]:
    return list(
        session.exec(
            select(QsirNomination)
            .where(QsirNomination.ward_id == ward_id, QsirNomination.wave_id == wave_id)
            .order_by(col(QsirNomination.id))
        ).all()
    )


def _record(ctx: StageContext) -> tuple[list[QsirNomination], Path | None, StageOutcome | None]:
    """The ward's nominations (recorded from its returned file if not yet), the file they came
    from, and the outcome to return instead while the ward has none (waiting for a file).

    Once the ward's nominations are recorded the file moves to ``processed/`` and is not read
    again. A file that fails validation is quarantined in ``rejected/`` with one message to the
    ward manager and the improvement team (``services/inbox.py``); the stage waits for a new one.
    """
    session, ward, wave = ctx.session, ctx.ward, ctx.wave
    nominations = ward_nominations(session, require_id(ward), wave.id)
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
    if nominations:
        return nominations, source, None
    inbox = nomination_inbox(ctx.settings, ward.code)
    who = ward.manager_name or "the ward manager"
    summary = (
        f"nomination file rejected ({len(rejected)}); waiting for {who} to send a "
        f"corrected file to {inbox}"
        if rejected
        else f"waiting for {who} to return QSIR nominations to {inbox}"
    )
    waiting = StageOutcome(
        done=False, summary=summary, details={"inbox": str(inbox), "rejected": rejected}
    )
    return [], None, waiting


def take_nominations(ctx: StageContext) -> StageOutcome:
    """A wave's ward at its QSIR stage: record its nominations; the wave seats them after.

    Done once the nominations are recorded: seats are the wave's shared step, run when every
    ward of the wave has had its turn (``services/enrolment.after_stage``), so no ward's stage
    reads or locks the trust's cohorts and waitlist. Waits (``done=False``) until the ward
    manager has returned the nomination file.
    """
    nominations, source, waiting = _record(ctx)
    if waiting is not None:
        return waiting
    return _stage_outcome(ctx.session, nominations, source, seated_by_wave=True)


def run_qsir_stage(ctx: StageContext) -> StageOutcome:
    """Record one ward's QSIR nominations and book them onto cohorts at once.

    Waits (``done=False``) until the ward manager has returned the nomination file; a re-run
    returns the same rows, allocates only what is still pending and enqueues nothing new.
    """
    nominations, source, waiting = _record(ctx)
    if waiting is not None:
        return waiting
    ensure_cohorts(ctx.session, ctx.settings, ctx.as_of)
    allocation = allocate_pending(ctx.session, ctx.settings, ctx.as_of)
    outcome = _stage_outcome(ctx.session, nominations, source)
    del allocation  # its rows answered the outcome's look-ups
    return outcome


def _stage_outcome(
    session: Session,
    nominations: list[QsirNomination],
    source: Path | None,
    seated_by_wave: bool = False,
) -> StageOutcome:
    # The allocation just read every cohort and the nominees: answered from the session where
    # still held, one statement for the nominees otherwise (not one per nomination).
    people = load_people(session, nominations)
    people += held(session, QsirCohort, {n.cohort_id for n in nominations})
    details: list[dict[str, Any]] = []
    for n in nominations:
        staff, _ = _people(session, n)
        cohort = session.get(QsirCohort, n.cohort_id) if n.cohort_id is not None else None
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
    del people
    counts = Counter(n.status.value for n in nominations)
    summary = f"{len(nominations)} nominated: " + ", ".join(
        f"{v} {k}" for k, v in sorted(counts.items())
    )
    booked = sorted({d["cohort"] for d in details if d["cohort"]})
    if booked:
        summary += f" ({', '.join(booked)})"
    if seated_by_wave and counts.get(NominationStatus.nominated.value):
        summary += "; seats allocated with the rest of the wave"
    return StageOutcome(
        done=seated_by_wave or all(n.status != NominationStatus.nominated for n in nominations),
        summary=summary,
        details={"nominations": details, "source": str(source) if source else None},
    )
