"""Handlers for QSIR: the staff register, registers of teaching days, nominees' presentations,
projects, withdrawals.
"""

from __future__ import annotations

from sqlmodel import Session

from wardprog import commands as c
from wardprog.config import Settings
from wardprog.models import (
    NominationStatus,
    Ward,
)
from wardprog.services import (
    qsir,
    qsir_register,
    staff_register,
    triage,
)
from wardprog.services.context import require_id, triage_item
from wardprog.services.handlers.bus import Outcome, handler
from wardprog.services.handlers.shared import imported, ward_code_of

# --- QSIR --------------------------------------------------------------------------------------


@handler(c.ImportStaff)
def import_staff(session: Session, _settings: Settings, cmd: c.ImportStaff) -> Outcome:
    return imported(staff_register.import_staff(session, cmd.path), "staff", cmd.path)


@handler(c.TakeRegister)
def take_register(session: Session, _settings: Settings, cmd: c.TakeRegister) -> Outcome:
    result = qsir_register.take_register(
        session, cmd.cohort, cmd.session_date, cmd.present, cmd.absent
    )
    return Outcome(
        f"{result.cohort_code} {result.session_date.isoformat()}: "
        f"{len(result.present)} present, {len(result.absent)} absent",
        ward_code=result.ward_codes[0] if len(result.ward_codes) == 1 else None,
        subject=f"cohort {result.cohort_code}",
        details={
            "present": result.present,
            "absent": result.absent,
            "wards": result.ward_codes,
        },
    )


def _nominee_outcome(ward: Ward, nomination_id: int | None, summary: str, status: str) -> Outcome:
    return Outcome(
        summary,
        ward_code=ward.code,
        subject=f"nomination {nomination_id}",
        details={"nomination_id": nomination_id, "status": status},
    )


@handler(c.RecordPresentation)
def record_presentation(
    session: Session, _settings: Settings, cmd: c.RecordPresentation
) -> Outcome:
    nomination, ward = qsir_register.nomination_for(
        session, cmd.staff_number, prefer=[*qsir.ACTIVE, NominationStatus.completed]
    )
    qsir.mark_project_presented(session, require_id(nomination), cmd.on)
    return _nominee_outcome(
        ward,
        nomination.id,
        f"{cmd.staff_number} presented their project on {cmd.on.isoformat()}",
        nomination.status.value,
    )


@handler(c.LinkProject)
def link_project(session: Session, _settings: Settings, cmd: c.LinkProject) -> Outcome:
    from wardprog.errors import WardprogError
    from wardprog.models import TriageCategory

    nomination, ward = qsir_register.nomination_for(
        session, cmd.staff_number, prefer=[*qsir.ACTIVE, *qsir.PENDING, NominationStatus.completed]
    )
    item = triage_item(session, cmd.item_id)
    if item.category is not TriageCategory.improve:
        raise WardprogError(
            f"item {item.id} is a {item.category.value}; a QSIR project works on an improve item"
        )
    if item.ward_id != ward.id:
        raise WardprogError(
            f"item {item.id} belongs to {ward_code_of(session, item.ward_id)}, not the nominee's "
            f"ward {ward.code}"
        )
    assert item.id is not None
    nomination.project_item_id = item.id
    session.add(nomination)
    session.flush()
    score = triage.latest_scores(session, [item.id]).get(item.id)
    shown = f" (IHI {score:.1f})" if score is not None else ""
    return Outcome(
        f"{cmd.staff_number}'s QSIR project is item {item.id}{shown}: {item.issue[:80]}",
        ward_code=ward.code,
        item_id=item.id,
        subject=f"nomination {nomination.id}",
        details={"nomination_id": nomination.id, "item_id": item.id, "ihi_score": score},
    )


@handler(c.WithdrawNominee)
def withdraw_nominee(session: Session, _settings: Settings, cmd: c.WithdrawNominee) -> Outcome:
    nomination, ward = qsir_register.nomination_for(
        session, cmd.staff_number, prefer=[*qsir.ACTIVE, *qsir.PENDING, NominationStatus.deferred]
    )
    qsir.withdraw_nomination(session, require_id(nomination), cmd.reason)
    return _nominee_outcome(
        ward, nomination.id, f"{cmd.staff_number} withdrawn: {cmd.reason}", "withdrawn"
    )


@handler(c.DeferNominee)
def defer_nominee(session: Session, _settings: Settings, cmd: c.DeferNominee) -> Outcome:
    nomination, ward = qsir_register.nomination_for(
        session, cmd.staff_number, prefer=[*qsir.ACTIVE, *qsir.PENDING]
    )
    qsir.defer_nomination(session, require_id(nomination), cmd.reason)
    return _nominee_outcome(
        ward, nomination.id, f"{cmd.staff_number} deferred: {cmd.reason}", "deferred"
    )


@handler(c.RequeueNominee)
def requeue_nominee(session: Session, _settings: Settings, cmd: c.RequeueNominee) -> Outcome:
    nomination, ward = qsir_register.nomination_for(
        session, cmd.staff_number, prefer=[NominationStatus.deferred]
    )
    qsir.requeue_nomination(session, require_id(nomination))
    return _nominee_outcome(
        ward,
        nomination.id,
        f"{cmd.staff_number} back in the queue for the next cohort",
        "nominated",
    )
