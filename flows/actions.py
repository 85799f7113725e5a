"""The improvement team's actions as Prefect deployments: the UI's "Run" form is the action's form.

Each flow's parameters are typed (enums, dates, bounded numbers), so the Run form offers a
drop-down for a decision, a date picker for a date and refuses a score off the IHI scale before
the run starts. The flow only builds the command (source: this flow run) and hands it to the
same bus the command line uses; the run is named after the action ("score 3.0 · NGH-ASH item
17") and its result carries the audit row's id. A refused action fails the run with the reason,
and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from pydantic import Field
from sqlmodel import Session

from flows.common import resolve_as_of, runtime
from wardprog import commands as c
from wardprog.models import (
    ChangeDecision,
    PdsaDecision,
    ProjectStatus,
    QiEventKind,
    TriageItem,
    Ward,
)
from wardprog.services.handlers import handle

Who = Annotated[str, Field(min_length=1, max_length=200, description="Your name (for the audit)")]
Email = Annotated[str, Field(max_length=320, description="Your email (optional)")]
ItemId = Annotated[int, Field(gt=0, description="Triage item id (wardprog items)")]
Score = Annotated[
    float, Field(ge=0.5, le=5.0, multiple_of=0.5, description="IHI score, 0.5 to 5.0")
]
StaffNo = Annotated[str, Field(min_length=1, max_length=32, description="ESR staff number")]
WardCode = Annotated[str, Field(min_length=1, max_length=32, description="Ward code, e.g. NGH-ASH")]
WaveNo = Annotated[int, Field(ge=1, description="Wave number")]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
EvidenceNote = Annotated[
    str,
    Field(
        max_length=2000,
        description="For 3.0 or more when the measure is not yet 20% of the way: why not",
    ),
]


def _ward_of_item(item_id: object) -> str:
    """The item's ward for the run's name; the run itself reports a missing item properly."""
    try:
        _, engine = runtime()
        with Session(engine) as session:
            item = session.get(TriageItem, int(item_id))  # type: ignore[call-overload]
            ward = session.get(Ward, item.ward_id) if item else None
            return ward.code if ward else "?"
    except Exception:
        return "?"


def _name(template: str, item: bool = False) -> Callable[[], str]:
    def name() -> str:
        params = dict(flow_run.parameters)
        if item:
            params["ward"] = _ward_of_item(params.get("item_id"))
        try:
            return template.format(**params)
        except (KeyError, ValueError):
            return template.split(" ", 1)[0]

    return name


def _act(kind: type[c.Command], by: str, email: str, on: date | None, **fields: Any) -> dict:
    command = c.build(
        kind,
        actor={"name": by, "email": email},
        source={"kind": "prefect", "flow_run_id": str(flow_run.id or "")},
        on=resolve_as_of(on),
        **fields,
    )
    settings, engine = runtime()
    result = handle(engine, command, settings)
    get_run_logger().info("%s (action %s)", result.summary, result.action_id)
    return result.as_json()


@flow(name="close-item", flow_run_name=_name("close · {ward} item {item_id}", item=True))
def close_item(
    item_id: ItemId, outcome: Text, by: Who, email: Email = "", on: date | None = None
) -> dict:
    """Close a fix, project or change request: the ward hears "you said, we did"."""
    return _act(c.CloseItem, by, email, on, item_id=item_id, outcome=outcome)


@flow(name="reopen-item", flow_run_name=_name("reopen · {ward} item {item_id}", item=True))
def reopen_item(
    item_id: ItemId, reason: Text, by: Who, email: Email = "", on: date | None = None
) -> dict:
    """Reopen an item that was not really sorted."""
    return _act(c.ReopenItem, by, email, on, item_id=item_id, reason=reason)


@flow(name="record-ihi-score", flow_run_name=_name("score {score} · {ward} item {item_id}", True))
def record_ihi_score(
    item_id: ItemId,
    score: Score,
    why: Text,
    by: Who,
    evidence_note: EvidenceNote = "",
    email: Email = "",
    on: date | None = None,
) -> dict:
    """An improvement project's IHI progress score, with the evidence for it."""
    return _act(
        c.ScoreProject, by, email, on, item_id=item_id, score=score, why=why,
        evidence_note=evidence_note,
    )  # fmt: skip


@flow(name="decide-change", flow_run_name=_name("{decision} · {ward} item {item_id}", True))
def decide_change(
    item_id: ItemId,
    decision: ChangeDecision,
    owner: Annotated[str, Field(min_length=1, max_length=200)],
    note: Text,
    by: Who,
    review: date | None = None,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """Approve, decline (closes it, the ward is told why) or defer (needs a review date)."""
    return _act(
        c.DecideChange,
        by,
        email,
        on,
        item_id=item_id,
        decision=decision,
        owner=owner,
        note=note,
        review=review,
    )


@flow(name="import-staff", flow_run_name=_name("import staff · {path}"))
def import_staff(
    path: Annotated[str, Field(min_length=1, description="ESR extract on the worker (csv/xlsx)")],
    by: Who,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """Import the staff register (ESR extract); all rows or none."""
    return _act(c.ImportStaff, by, email, on, path=Path(path))


@flow(name="import-owners", flow_run_name=_name("import owners · {path}"))
def import_owners(
    path: Annotated[str, Field(min_length=1, description="Owners register file on the worker")],
    by: Who,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """Replace the owners register (matrons, directorate leads, executive); all rows or none."""
    return _act(c.ImportOwners, by, email, on, path=Path(path))


@flow(name="merge-themes", flow_run_name=_name("merge {themes} into {into}"))
def merge_themes(
    into: Annotated[str, Field(pattern=r"^[Tt]\d+$", description="The theme they join, e.g. T1")],
    themes: Annotated[list[str], Field(min_length=1, description="Themes to merge in")],
    by: Who,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """Merge trust-wide themes that are one problem."""
    return _act(c.MergeThemes, by, email, on, into=into, themes=themes)


@flow(name="split-theme", flow_run_name=_name("split {theme}"))
def split_theme(
    theme: Annotated[str, Field(pattern=r"^[Tt]\d+$", description="Theme key, e.g. T3")],
    item_ids: Annotated[list[int], Field(min_length=1, description="Items to move out")],
    by: Who,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """Move items that are a different problem into a new theme of their own."""
    return _act(c.SplitTheme, by, email, on, theme=theme, item_ids=item_ids)


@flow(name="take-qsir-register", flow_run_name=_name("register · {cohort} {session_date}"))
def take_qsir_register(
    cohort: Annotated[str, Field(min_length=1, description="Cohort code, e.g. QSIR-P-2026-Q2")],
    session_date: date,
    present: Annotated[list[str], Field(description="Staff numbers present; the rest absent")],
    by: Who,
    email: Email = "",
) -> dict:
    """One teaching day's register."""
    return _act(
        c.TakeRegister,
        by,
        email,
        session_date,
        cohort=cohort,
        session_date=session_date,
        present=present,
    )


@flow(name="record-qsir-presentation", flow_run_name=_name("presented · {staff_number}"))
def record_presentation(staff_number: StaffNo, on: date, by: Who, email: Email = "") -> dict:
    """A nominee presented their improvement project."""
    return _act(c.RecordPresentation, by, email, on, staff_number=staff_number)


@flow(name="link-qsir-project", flow_run_name=_name("project · {staff_number} item {item_id}"))
def link_qsir_project(
    staff_number: StaffNo, item_id: ItemId, by: Who, email: Email = "", on: date | None = None
) -> dict:
    """Link a nominee's QSIR course project to the ward's improve item it works on."""
    return _act(c.LinkProject, by, email, on, staff_number=staff_number, item_id=item_id)


@flow(name="withdraw-nominee", flow_run_name=_name("withdraw · {staff_number}"))
def withdraw_nominee(
    staff_number: StaffNo, reason: Text, by: Who, email: Email = "", on: date | None = None
) -> dict:
    """The nominee will not do the course; their seat is released."""
    return _act(c.WithdrawNominee, by, email, on, staff_number=staff_number, reason=reason)


@flow(name="defer-nominee", flow_run_name=_name("defer · {staff_number}"))
def defer_nominee(
    staff_number: StaffNo, reason: Text, by: Who, email: Email = "", on: date | None = None
) -> dict:
    """The nominee will do the course later; their seat is released."""
    return _act(c.DeferNominee, by, email, on, staff_number=staff_number, reason=reason)


@flow(name="requeue-nominee", flow_run_name=_name("requeue · {staff_number}"))
def requeue_nominee(
    staff_number: StaffNo, by: Who, email: Email = "", on: date | None = None
) -> dict:
    """A deferred nominee goes back in the queue for the next cohort."""
    return _act(c.RequeueNominee, by, email, on, staff_number=staff_number)


@flow(name="reschedule-event", flow_run_name=_name("reschedule · {ward_code} wave {wave}"))
def reschedule_event(
    ward_code: WardCode,
    wave: WaveNo,
    to: Annotated[datetime, Field(description="New start, Europe/London")],
    reason: Text,
    by: Who,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """Move a ward's engagement event (working day, no clash on the site)."""
    return _act(
        c.RescheduleEvent, by, email, on, ward_code=ward_code, wave=wave, to=to, reason=reason
    )


@flow(name="cancel-event", flow_run_name=_name("cancel · {ward_code} wave {wave}"))
def cancel_event(
    ward_code: WardCode,
    wave: WaveNo,
    reason: Text,
    by: Who,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """Cancel a ward's engagement event (METHOD:CANCEL to everyone invited)."""
    return _act(c.CancelEvent, by, email, on, ward_code=ward_code, wave=wave, reason=reason)


@flow(name="record-event-held", flow_run_name=_name("held · {ward_code} wave {wave}"))
def record_event_held(
    ward_code: WardCode,
    wave: WaveNo,
    held_on: date,
    by: Who,
    attendees: Annotated[int | None, Field(ge=1, le=500, description="How many came")] = None,
    names: Annotated[list[str] | None, Field(description="Attendees' names (optional)")] = None,
    facilitator: Annotated[str | None, Field(max_length=200)] = None,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """The ward's engagement event took place: the stage completes, triage is chased from then."""
    return _act(
        c.RecordEventHeld,
        by,
        email,
        on,
        ward_code=ward_code,
        wave=wave,
        held_on=held_on,
        attendees=attendees,
        names=names,
        facilitator=facilitator,
    )


@flow(name="defer-ward", flow_run_name=_name("defer · {ward_code}"))
def defer_ward(
    ward_code: WardCode, reason: Text, by: Who, email: Email = "", on: date | None = None
) -> dict:
    """Move an enrolled ward, not yet engaged, to the next wave; the ward is told."""
    return _act(c.DeferWard, by, email, on, ward_code=ward_code, reason=reason)


@flow(name="set-engagement-preferences", flow_run_name=_name("preferences · {ward_code}"))
def set_engagement_preferences(
    ward_code: WardCode,
    by: Who,
    starts: Annotated[list[str] | None, Field(description="HH:MM, most preferred first")] = None,
    avoid: list[c.Weekday] | None = None,
    expected_attendees: Annotated[int | None, Field(ge=1, le=200)] = None,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """When a ward can release staff for its engagement event."""
    return _act(
        c.SetEngagementPreferences,
        by,
        email,
        on,
        ward_code=ward_code,
        starts=starts,
        avoid=avoid,
        expected_attendees=expected_attendees,
    )


# --- improvement projects ---------------------------------------------------------------------

ProjectNo = Annotated[int, Field(gt=0, description="Project id (wardprog projects)")]
MaybeText = Annotated[str | None, Field(max_length=2000)]


ProjectRecordForm = Annotated[
    c.ProjectRecord | None,
    Field(description="The project record: aim, measures, people, PPI, CO2e (blank = as it is)"),
]


def _record(record: c.ProjectRecord | None) -> dict[str, Any]:
    """The record's fields given (a field left blank keeps what the project has)."""
    return record.model_dump(exclude_none=True) if record is not None else {}


@flow(name="start-project", flow_run_name=_name("start project · {title}"))
def start_project(
    title: Annotated[str, Field(min_length=1, max_length=200)],
    by: Who,
    ward_code: Annotated[str | None, Field(max_length=32, description="Its ward, if any")] = None,
    record: ProjectRecordForm = None,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """A QI project started outside the ward programme (`improve` items get one themselves)."""
    return _act(c.StartProject, by, email, on, title=title, ward_code=ward_code, **_record(record))


@flow(name="update-project", flow_run_name=_name("update project {project_id}"))
def update_project(
    project_id: ProjectNo,
    by: Who,
    title: Annotated[str | None, Field(max_length=200)] = None,
    record: ProjectRecordForm = None,
    status: ProjectStatus | None = None,
    stop_reason: MaybeText = None,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """Change a project's record; only the fields given change (stopping needs a reason)."""
    return _act(c.UpdateProject, by, email, on, project_id=project_id, title=title,
                status=status, stop_reason=stop_reason, **_record(record))  # fmt: skip


@flow(name="score-project", flow_run_name=_name("score {score} · project {project_id}"))
def score_project(
    project_id: ProjectNo,
    score: Score,
    why: Text,
    by: Who,
    evidence_note: EvidenceNote = "",
    email: Email = "",
    on: date | None = None,
) -> dict:
    """A project's IHI progress score by its id (projects outside the programme too)."""
    return _act(
        c.ScoreProject, by, email, on, project_id=project_id, score=score, why=why,
        evidence_note=evidence_note,
    )  # fmt: skip


@flow(name="record-measurement", flow_run_name=_name("measure · project {project_id}"))
def record_measurement(
    project_id: ProjectNo,
    value: float,
    by: Who,
    note: str = "",
    email: Email = "",
    on: date | None = None,
) -> dict:
    """A value of the project's own measure (on = the day measured): evidence for its score."""
    return _act(c.RecordMeasurement, by, email, on, project_id=project_id, value=value, note=note)


@flow(name="add-pdsa", flow_run_name=_name("PDSA · project {project_id}"))
def add_pdsa(
    project_id: ProjectNo,
    plan: Text,
    by: Who,
    prediction: str = "",
    happened: str = "",
    learned: str = "",
    decision: PdsaDecision | None = None,
    started_on: date | None = None,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """One PDSA cycle of a project (marked on its measure chart)."""
    return _act(
        c.AddPdsa, by, email, on, project_id=project_id, plan=plan, prediction=prediction,
        happened=happened, learned=learned, decision=decision, started_on=started_on,
    )  # fmt: skip


@flow(name="log-coaching", flow_run_name=_name("coaching · project {project_id}"))
def log_coaching(
    project_id: ProjectNo,
    adviser: Annotated[str, Field(min_length=1, max_length=200)],
    minutes: Annotated[int, Field(ge=1, le=600)],
    by: Who,
    note: str = "",
    email: Email = "",
    on: date | None = None,
) -> dict:
    """A QI adviser's coaching session with a project team (on = the day it was held)."""
    return _act(
        c.LogCoaching, by, email, on, project_id=project_id, adviser=adviser, minutes=minutes,
        note=note,
    )  # fmt: skip


@flow(name="record-qi-event", flow_run_name=_name("{event_kind} · {topic}"))
def record_qi_event(
    event_kind: QiEventKind,
    topic: Annotated[str, Field(min_length=1, max_length=200)],
    by: Who,
    attendees: Annotated[list[str] | None, Field(description="Staff numbers there")] = None,
    email: Email = "",
    on: date | None = None,
) -> dict:
    """A QI Café or QI training event (on = the day held) with its attendees."""
    return _act(
        c.RecordQiEvent, by, email, on, event_kind=event_kind, topic=topic,
        attendees=attendees or [],
    )  # fmt: skip
