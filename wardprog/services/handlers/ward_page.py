"""Handlers for what a ward manager does from the ward page: nominate, ask to move the event,
upload a return.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from wardprog import commands as c
from wardprog.config import LONDON, Settings
from wardprog.errors import InputFileError
from wardprog.models import (
    Course,
    Ward,
    Wave,
)
from wardprog.notify.outbox import enqueue
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG
from wardprog.rules.slots import to_utc
from wardprog.services import engagement, qsir, triage
from wardprog.services.context import ward_by_code, ward_enrolment
from wardprog.services.handlers.bus import Outcome, handler
from wardprog.services.triage import template as triage_template

# --- from the ward page --------------------------------------------------------------------


@handler(c.NominateStaff)
def nominate_staff(session: Session, settings: Settings, cmd: c.NominateStaff) -> Outcome:
    ward = ward_by_code(session, cmd.ward_code)
    enrolment = ward_enrolment(session, ward)
    wave = session.get(Wave, enrolment.wave_id) if enrolment else None
    course = Course(cmd.course)
    lines = [qsir.NominationLine(None, n, course, cmd.actor.name) for n in cmd.staff_numbers]
    # The same checks as a returned nomination form: unknown staff, another ward's staff,
    # already nominated, over the ward's allowance. The QSIR stage books them on its next run.
    nominations = qsir.record_nominations(
        session,
        settings,
        ward=ward,
        wave=wave,
        lines=lines,
        source=f"ward page ({cmd.actor.email or cmd.actor.name})",
        as_of=cmd.on,
    )
    return Outcome(
        f"{ward.code}: {len(nominations)} nominated for QSIR {course.value}; "
        "cohort bookings follow",
        ward_code=ward.code,
        subject=f"ward {ward.code}",
        details={"nominations": [n.id for n in nominations]},
    )


@handler(c.RequestEventChange)
def request_event_change(
    session: Session, _settings: Settings, cmd: c.RequestEventChange
) -> Outcome:
    ward = ward_by_code(session, cmd.ward_code)
    event = engagement.find_event(session, cmd.ward_code)
    assert event.id is not None and event.starts_at is not None
    local = to_utc(event.starts_at).astimezone(LONDON)
    enqueue(
        session,
        key=f"event_change_requested:{ward.code}:{event.id}:{event.sequence}:{cmd.on}",
        kind="event_change_requested",
        tags=[IMPROVEMENT_TEAM_TAG],
        context={
            "ward_code": ward.code,
            "ward_name": ward.name,
            "requested_by": cmd.actor.name,
            "requested_email": cmd.actor.email,
            "starts_at": local,
            "reason": cmd.reason,
        },
    )
    return Outcome(
        f"the improvement team has been asked to move {ward.code}'s event of "
        f"{local:%a %d %b %Y %H:%M}",
        ward_code=ward.code,
        subject=f"event {event.id}",
    )


@handler(c.SubmitReturn)
def submit_return(session: Session, settings: Settings, cmd: c.SubmitReturn) -> Outcome:
    """A tracker is recorded at once (its reply lists what); a triage template is checked now
    and read by the triage stage, exactly as a file dropped in the inbox."""
    from wardprog.services import tracker  # the tracker runs its rows through this bus

    ward = ward_by_code(session, cmd.ward_code)
    name = Path(cmd.filename).name
    if tracker.looks_like_tracker(name, cmd.content):
        folder = tracker.tracker_inbox(settings, ward.code)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(cmd.content)
        outcomes = tracker.collect_returns(session, settings, ward, cmd.on)
        mine = next((o for o in outcomes if o.filename == name), None)
        if mine is not None and mine.error is not None:
            return _rejected(ward, name, [str(p) for p in mine.error.problems])
        count = len(mine.recorded) if mine else 0
        return Outcome(
            f"tracker {name}: {count} update(s) recorded", ward_code=ward.code, subject=name
        )
    try:
        triage_template.parse_template(Path(name), cmd.content)
    except InputFileError as exc:
        return _rejected(ward, name, [str(p) for p in exc.problems])
    folder = triage.triage_inbox(settings, ward.code)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(cmd.content)
    return Outcome(
        f"triage template {name} received: its items are recorded at the next daily advance",
        ward_code=ward.code,
        subject=name,
    )


def _rejected(ward: Ward, name: str, problems: list[str]) -> Outcome:
    return Outcome(
        f"{name} was not recorded: " + "; ".join(problems),
        ward_code=ward.code,
        subject=name,
        details={"rejected": True, "problems": problems},
    )
