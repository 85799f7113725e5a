"""One handler per command, and the bus that runs it in one transaction with its audit row.

    entry point (CLI, Prefect form, tracker row, ward page) -> Command
        -> handle(engine, command): one transaction
             handler(session, settings, command) -> Outcome   (the existing services)
             Action row: who, on what date, command + fields, source, outcome, ward, item
        -> ActionResult (the audit row's id for the caller to show)

A command that fails (any :class:`WardprogError`) rolls the whole transaction back: nothing is
written, not even an audit row, and the error reaches the caller with its message. Rejected
attempts are the caller's to report (the CLI prints them and exits 2; a Prefect run fails with
the message; a rejected tracker gets a reply to the ward manager). Keeping the ``action`` table
to what actually happened means every row in it is an effect someone can see.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from wardprog import commands as c
from wardprog.config import LONDON, Settings, get_settings
from wardprog.db import session_scope
from wardprog.errors import InputFileError, NotFoundError
from wardprog.models import (
    Action,
    Course,
    ImprovementProject,
    NominationStatus,
    QiEventKind,
    TriageItem,
    TriageStatus,
    Ward,
    WardEnrolment,
    Wave,
)
from wardprog.notify.outbox import enqueue
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG
from wardprog.rules.slots import to_utc
from wardprog.services import (
    engagement,
    owners,
    project_scores,
    projects,
    qsir,
    qsir_register,
    staff_register,
    themes,
    triage,
    triage_template,
)
from wardprog.services.context import require_id

IHI = triage.IHI_SCORES


@dataclass(frozen=True)
class Outcome:
    """What a handler did, in words, and what it did it to."""

    summary: str
    ward_code: str | None = None
    item_id: int | None = None
    subject: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionResult:
    action_id: int
    command: str
    summary: str
    ward_code: str | None
    item_id: int | None
    subject: str
    details: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "action_id": self.action_id,
            "command": self.command,
            "summary": self.summary,
            "ward_code": self.ward_code,
            "item_id": self.item_id,
            "subject": self.subject,
            "details": self.details,
        }


C = TypeVar("C", bound=c.Command)
Handler = Callable[[Session, Settings, Any], Outcome]
HANDLERS: dict[type[c.Command], Handler] = {}


def handler(kind: type[C]) -> Callable[[Callable[[Session, Settings, C], Outcome]], Handler]:
    def register(fn: Callable[[Session, Settings, C], Outcome]) -> Handler:
        if kind in HANDLERS:
            raise RuntimeError(f"{kind.__name__} already has a handler")
        HANDLERS[kind] = fn
        return fn

    return register


# --- the bus -----------------------------------------------------------------------------------


def handle(
    engine: Engine | None, command: c.Command, settings: Settings | None = None
) -> ActionResult:
    """Run one command in its own transaction; returns the audit row's id and the outcome."""
    return handle_all(engine, [command], settings)[0]


def handle_all(
    engine: Engine | None, commands: Sequence[c.Command], settings: Settings | None = None
) -> list[ActionResult]:
    """Run several commands (a returned tracker's rows) in ONE transaction: all or none."""
    settings = settings or get_settings()
    with session_scope(engine) as session:
        return [run(session, settings, command) for command in commands]


def run(session: Session, settings: Settings, command: c.Command) -> ActionResult:
    """Run a command inside the caller's transaction (it only flushes)."""
    fn = HANDLERS.get(type(command))
    if fn is None:
        raise TypeError(f"no handler for {type(command).__name__}")
    outcome = fn(session, settings, command)
    action = Action(
        command=command.name,
        actor_name=command.actor.name,
        actor_email=command.actor.email,
        acted_on=command.on,
        source_kind=command.source.kind,
        source_ref=command.source.ref[:500],
        ward_code=outcome.ward_code,
        item_id=outcome.item_id,
        subject=outcome.subject[:200],
        outcome=outcome.summary,
        fields=command.audit_fields(),
    )
    session.add(action)
    session.flush()
    assert action.id is not None
    return ActionResult(
        action.id,
        command.name,
        outcome.summary,
        outcome.ward_code,
        outcome.item_id,
        outcome.subject,
        outcome.details,
    )


# --- triage follow-up --------------------------------------------------------------------------


def _ward_code(session: Session, ward_id: int) -> str:
    ward = session.get(Ward, ward_id)
    assert ward is not None
    return ward.code


def _item_outcome(session: Session, item: TriageItem, summary: str) -> Outcome:
    return Outcome(
        summary,
        ward_code=_ward_code(session, item.ward_id),
        item_id=item.id,
        subject=f"item {item.id}",
        details={"status": item.status.value, "category": item.category.value},
    )


@handler(c.CloseItem)
def close_item(session: Session, _settings: Settings, cmd: c.CloseItem) -> Outcome:
    before = session.get(TriageItem, cmd.item_id)
    was_closed = before is not None and before.status is TriageStatus.closed
    item = triage.close_item(session, cmd.item_id, cmd.outcome, cmd.actor.name, cmd.on)
    projects.item_closed(session, item, cmd.on)
    if was_closed:
        return _item_outcome(session, item, f"item {item.id} was already closed; unchanged")
    return _item_outcome(session, item, f"closed item {item.id}: {item.outcome}")


@handler(c.ReopenItem)
def reopen_item(session: Session, _settings: Settings, cmd: c.ReopenItem) -> Outcome:
    item = triage.reopen_item(session, cmd.item_id, cmd.reason, cmd.actor.name)
    projects.item_reopened(session, item)
    return _item_outcome(session, item, f"reopened item {item.id}: {cmd.reason}")


@handler(c.ScoreProject)
def score_project(session: Session, settings: Settings, cmd: c.ScoreProject) -> Outcome:
    if cmd.item_id is not None:
        project = project_scores.project_of_item(session, cmd.item_id, cmd.on)
    else:
        assert cmd.project_id is not None
        project = projects.get_project(session, cmd.project_id)
    row = project_scores.record_score(
        session, settings, project, cmd.score, cmd.actor.name, cmd.on, cmd.why, cmd.evidence_note
    )
    label = f"{row.score:.1f} ({IHI[row.score].lower()})"
    if row.evidence_value is not None:
        label += f", evidence {project.aim_measure} = {row.evidence_value:g}"
    elif row.evidence_note:
        label += ", on an evidence note"
    if project.triage_item_id is not None:
        item = session.get(TriageItem, project.triage_item_id)
        assert item is not None
        return _item_outcome(session, item, f"item {item.id} scored {label}")
    return _project_outcome(session, project, f"project {project.id} scored {label}")


@handler(c.DecideChange)
def decide_change(session: Session, _settings: Settings, cmd: c.DecideChange) -> Outcome:
    item = triage.decide_change(
        session,
        cmd.item_id,
        cmd.decision,
        cmd.owner,
        cmd.note,
        cmd.actor.name,
        cmd.on,
        cmd.review,
    )
    verb = {"approve": "approved", "decline": "declined", "defer": "deferred"}[cmd.decision]
    review = f", review {item.review_date.isoformat()}" if item.review_date else ""
    return _item_outcome(session, item, f"change {item.id} {verb}; owner {item.owner}{review}")


# --- owners ------------------------------------------------------------------------------------


@handler(c.ImportOwners)
def import_owners(session: Session, _settings: Settings, cmd: c.ImportOwners) -> Outcome:
    return _imported(owners.import_owners(session, cmd.path), "owners", cmd.path)


def _imported(count: int, kind: str, path: Path) -> Outcome:
    """What a register import says: how many rows of ``kind`` came from which file."""
    return Outcome(
        f"{count} {kind} imported from {path.name}",
        subject=f"{kind} register",
        details={"imported": count, "file": str(path)},
    )


# --- themes ------------------------------------------------------------------------------------


@handler(c.MergeThemes)
def merge_themes(session: Session, _settings: Settings, cmd: c.MergeThemes) -> Outcome:
    theme, moved = themes.merge_themes(session, cmd.into, list(cmd.themes))
    return Outcome(
        f"merged {', '.join(cmd.themes)} into {theme.key}: {moved} items moved",
        subject=f"theme {theme.key}",
        details={"theme": theme.key, "merged": list(cmd.themes), "moved": moved},
    )


@handler(c.SplitTheme)
def split_theme(session: Session, _settings: Settings, cmd: c.SplitTheme) -> Outcome:
    theme = themes.split_theme(session, cmd.theme, list(cmd.item_ids))
    return Outcome(
        f"{len(cmd.item_ids)} items split from {cmd.theme} into new theme {theme.key}",
        subject=f"theme {theme.key}",
        details={"theme": theme.key, "from": cmd.theme, "item_ids": list(cmd.item_ids)},
    )


# --- QSIR --------------------------------------------------------------------------------------


@handler(c.ImportStaff)
def import_staff(session: Session, _settings: Settings, cmd: c.ImportStaff) -> Outcome:
    return _imported(staff_register.import_staff(session, cmd.path), "staff", cmd.path)


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
    item = session.get(TriageItem, cmd.item_id)
    if item is None:
        raise NotFoundError(f"triage item {cmd.item_id} does not exist")
    if item.category is not TriageCategory.improve:
        raise WardprogError(
            f"item {item.id} is a {item.category.value}; a QSIR project works on an improve item"
        )
    if item.ward_id != ward.id:
        raise WardprogError(
            f"item {item.id} belongs to {_ward_code(session, item.ward_id)}, not the nominee's "
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


def _ward(session: Session, ward_code: str) -> Ward:
    ward = session.exec(select(Ward).where(Ward.code == ward_code)).first()
    if ward is None:
        raise NotFoundError(f"no ward with code {ward_code!r}; check the ward register")
    return ward


# --- engagement --------------------------------------------------------------------------------


@handler(c.RescheduleEvent)
def reschedule_event(session: Session, settings: Settings, cmd: c.RescheduleEvent) -> Outcome:
    _ward(session, cmd.ward_code)
    event = engagement.find_event(session, cmd.ward_code, cmd.wave)
    assert event.id is not None
    event = engagement.reschedule_event(session, event.id, cmd.to, cmd.reason, cmd.on, settings)
    assert event.starts_at is not None
    local = to_utc(event.starts_at).astimezone(LONDON)
    return Outcome(
        f"{cmd.ward_code} wave {cmd.wave} event moved to {local:%a %d %b %Y %H:%M}",
        ward_code=cmd.ward_code,
        subject=f"event {event.id}",
        details={"event_id": event.id, "starts_at": local.isoformat(), "sequence": event.sequence},
    )


@handler(c.CancelEvent)
def cancel_event(session: Session, _settings: Settings, cmd: c.CancelEvent) -> Outcome:
    _ward(session, cmd.ward_code)
    event = engagement.find_event(session, cmd.ward_code, cmd.wave)
    event = engagement.cancel_event(session, require_id(event), cmd.reason, cmd.on)
    return Outcome(
        f"{cmd.ward_code} wave {cmd.wave} event cancelled: {cmd.reason}",
        ward_code=cmd.ward_code,
        subject=f"event {event.id}",
        details={"event_id": event.id, "status": event.status.value},
    )


@handler(c.RecordEventHeld)
def record_event_held(session: Session, _settings: Settings, cmd: c.RecordEventHeld) -> Outcome:
    _ward(session, cmd.ward_code)
    event = engagement.find_event(session, cmd.ward_code, cmd.wave)
    assert event.id is not None
    event, changed = engagement.record_event_held(
        session,
        event.id,
        cmd.held_on,
        cmd.on,
        attendees=cmd.attendees,
        names=list(cmd.names or []),
        facilitator=cmd.facilitator or "",
    )
    what = "held" if changed else "already recorded as held"
    by = event.held_facilitator or "nobody named"
    return Outcome(
        f"{cmd.ward_code} wave {cmd.wave} event {what} on {cmd.held_on:%a %d %b %Y}: "
        f"{event.attendees_count} attended, facilitated by {by}",
        ward_code=cmd.ward_code,
        subject=f"event {event.id}",
        details={
            "event_id": event.id,
            "status": event.status.value,
            "held_on": cmd.held_on.isoformat(),
            "attendees": event.attendees_count,
            "names": event.attendee_names,
            "facilitator": event.held_facilitator,
        },
    )


@handler(c.DeferWard)
def defer_ward(session: Session, settings: Settings, cmd: c.DeferWard) -> Outcome:
    from wardprog.services.deferral import defer_ward as defer

    moved = defer(session, settings, cmd.ward_code, cmd.reason, cmd.on, cmd.actor.name)
    to = f"wave {moved.to_wave}" if moved.to_wave else "a later wave"
    notes = f"; {'; '.join(moved.notes)}" if moved.notes else ""
    return Outcome(
        f"{moved.ward_code} moved from wave {moved.from_wave} to {to}: {cmd.reason}{notes}",
        ward_code=moved.ward_code,
        subject=f"ward {moved.ward_code}",
        details={"from_wave": moved.from_wave, "to_wave": moved.to_wave, "plan_notes": moved.notes},
    )


@handler(c.SetEngagementPreferences)
def set_preferences(
    session: Session, _settings: Settings, cmd: c.SetEngagementPreferences
) -> Outcome:
    ward = _ward(session, cmd.ward_code)
    pref = engagement.set_ward_preference(
        session,
        ward,
        preferred_starts=cmd.starts,
        avoid_weekdays=[d.number for d in cmd.avoid] if cmd.avoid is not None else None,
        expected_attendees=cmd.expected_attendees,
    )
    avoid = ",".join(list(c.Weekday)[d].value for d in pref.avoid_weekdays) or "none"
    return Outcome(
        f"{ward.code}: starts {', '.join(pref.preferred_starts)}; avoid {avoid}; "
        f"{pref.expected_attendees} expected",
        ward_code=ward.code,
        subject=f"ward {ward.code}",
        details={
            "preferred_starts": pref.preferred_starts,
            "avoid_weekdays": pref.avoid_weekdays,
            "expected_attendees": pref.expected_attendees,
        },
    )


# --- from the ward page --------------------------------------------------------------------


@handler(c.NominateStaff)
def nominate_staff(session: Session, settings: Settings, cmd: c.NominateStaff) -> Outcome:
    ward = _ward(session, cmd.ward_code)
    enrolment = session.exec(select(WardEnrolment).where(WardEnrolment.ward_id == ward.id)).first()
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
    ward = _ward(session, cmd.ward_code)
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

    ward = _ward(session, cmd.ward_code)
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


# --- improvement projects ----------------------------------------------------------------------


def _project_outcome(session: Session, project: ImprovementProject, summary: str) -> Outcome:
    return Outcome(
        summary,
        ward_code=_ward_code(session, project.ward_id) if project.ward_id else None,
        item_id=project.triage_item_id,
        subject=f"project {project.id}",
        details={"project_id": project.id, "status": project.status.value},
    )


def _check_project(settings: Settings, changes: dict[str, Any]) -> dict[str, Any]:
    if "strategic_aim" in changes:
        projects.check_strategic_aim(settings, changes["strategic_aim"])
    return changes


@handler(c.StartProject)
def start_project(session: Session, settings: Settings, cmd: c.StartProject) -> Outcome:
    changes = _check_project(settings, cmd.changes())
    project = ImprovementProject(
        title=cmd.title,
        ward_id=projects.ward_id_for(session, cmd.ward_code),
        started_on=cmd.on,
        lead=cmd.actor.name,
    )
    projects.apply_changes(project, changes, cmd.on)
    session.add(project)
    session.flush()
    project_scores.check_aim(project)
    return _project_outcome(session, project, f"project {project.id} started: {project.title}")


@handler(c.UpdateProject)
def update_project(session: Session, settings: Settings, cmd: c.UpdateProject) -> Outcome:
    project = projects.get_project(session, cmd.project_id)
    # Only what differs from the record is a change (the ward page's form sends it all back).
    changes = {
        k: v for k, v in _check_project(settings, cmd.changes()).items() if getattr(project, k) != v
    }
    if not changes:
        raise projects.ProjectError(f"project {project.id}: nothing to change")
    projects.apply_changes(project, dict(changes), cmd.on)  # it pops status and reason
    project_scores.check_aim(project)
    session.add(project)
    session.flush()
    return _project_outcome(
        session, project, f"project {project.id} updated: {', '.join(sorted(changes))}"
    )


@handler(c.RecordMeasurement)
def record_measurement(session: Session, _settings: Settings, cmd: c.RecordMeasurement) -> Outcome:
    project = projects.get_project(session, cmd.project_id)
    row, created = project_scores.add_measurement(
        session, project, cmd.on, cmd.value, cmd.note, cmd.actor.name
    )
    measure = project.aim_measure or "its measure"
    verb = "measured" if created else "corrected"
    return _project_outcome(
        session,
        project,
        f"project {project.id}: {measure} {verb} {row.value:g} on {row.measured_on.isoformat()}",
    )


@handler(c.AddPdsa)
def add_pdsa(session: Session, _settings: Settings, cmd: c.AddPdsa) -> Outcome:
    project = projects.get_project(session, cmd.project_id)
    cycle = projects.add_pdsa(
        session,
        project,
        started_on=cmd.started_on or cmd.on,
        plan=cmd.plan,
        prediction=cmd.prediction,
        happened=cmd.happened,
        learned=cmd.learned,
        decision=cmd.decision,
        decided_on=cmd.on,
        recorded_by=cmd.actor.name,
    )
    verdict = f" ({cycle.decision.value})" if cycle.decision else ""
    return _project_outcome(
        session, project, f"project {project.id}: PDSA cycle {cycle.number}{verdict}"
    )


@handler(c.LogCoaching)
def log_coaching(session: Session, _settings: Settings, cmd: c.LogCoaching) -> Outcome:
    project = projects.get_project(session, cmd.project_id)
    projects.log_coaching(session, project, cmd.adviser, cmd.on, cmd.minutes, cmd.note)
    return _project_outcome(
        session,
        project,
        f"project {project.id}: {cmd.minutes} min coaching with {cmd.adviser} "
        f"on {cmd.on.isoformat()}",
    )


@handler(c.RecordQiEvent)
def record_qi_event(session: Session, _settings: Settings, cmd: c.RecordQiEvent) -> Outcome:
    event, added = projects.record_event(session, cmd.event_kind, cmd.on, cmd.topic, cmd.attendees)
    label = "QI Café" if cmd.event_kind is QiEventKind.qi_cafe else "training"
    return Outcome(
        f"{label} {event.held_on.isoformat()} {event.topic!r}: {added} attendee(s) recorded",
        subject=f"event {event.id}",
        details={"event_id": event.id, "kind": event.kind.value, "added": added},
    )


def _check_complete() -> None:
    missing = [k.__name__ for k in c.ALL_COMMANDS if k not in HANDLERS]
    if missing:
        raise RuntimeError(f"commands without a handler: {', '.join(missing)}")


_check_complete()
