"""Every human action in the programme as a small, typed, validated command.

Each way in (the command line, a Prefect deployment's Run form, a row of a returned tracker,
the ward page) only translates its input into one of these and hands it to
:func:`wardprog.services.handlers.handle`, which runs exactly one handler in one transaction
and writes the audit row. A command that fails validation here never reaches the database.

Every command carries who acted (:class:`Actor`), where it came from (:class:`Source`) and the
programme date it happened on (``on``): the audit trail records that date, not the wall clock,
so a replay on the simulated clock is audited on the simulated days.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from wardprog.errors import WardprogError
from wardprog.models.projects import PdsaDecision, PpiLevel, ProjectStatus, QiEventKind
from wardprog.models.triage import ChangeDecision
from wardprog.rules.aims import Direction
from wardprog.rules.metrics import METRICS_BY_KEY
from wardprog.rules.triage import IHI_SCORES

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
StaffNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9-]{1,32}$")
]
WardCode = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1, max_length=32)
]
ItemId = Annotated[int, Field(gt=0)]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class Weekday(StrEnum):
    mon = "mon"
    tue = "tue"
    wed = "wed"
    thu = "thu"
    fri = "fri"
    sat = "sat"
    sun = "sun"

    @property
    def number(self) -> int:
        """0 = Monday, as the scheduling rules count."""
        return list(Weekday).index(self)


class Actor(BaseModel):
    """Who acted: a name always, an email when we have one."""

    model_config = ConfigDict(frozen=True)

    name: Name
    email: str = ""

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip().lower()
        if value and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value


class Source(BaseModel):
    """Where a command came from.

    ``cli``: the command line; ``prefect``: a deployment's Run form (``flow_run_id``);
    ``file``: a row of a returned file (``file``, ``row``); ``web``: the ward page;
    ``demo``: the demo trust's simulated staff and improvement team.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["cli", "prefect", "file", "web", "demo"] = "cli"
    flow_run_id: str | None = None
    file: str | None = None
    row: int | None = None

    @property
    def ref(self) -> str:
        if self.kind == "prefect" and self.flow_run_id:
            return f"flow run {self.flow_run_id}"
        if self.file:
            return f"{self.file}#row {self.row}" if self.row is not None else self.file
        return ""


class Command(BaseModel):
    """Fields every command shares."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: Actor
    source: Source = Source()
    on: date = Field(description="The programme date the action happened on")

    @property
    def name(self) -> str:
        return type(self).__name__

    def audit_fields(self) -> dict[str, object]:
        """The command's own fields for the audit row (actor and source have their columns)."""
        return self.model_dump(mode="json", exclude={"actor", "source"})


# --- triage follow-up ----------------------------------------------------------------------


class CloseItem(Command):
    """A fix is done, a project finished, a change put in place: "you said, we did"."""

    item_id: ItemId
    outcome: Text


class ReopenItem(Command):
    """A closed item was not really sorted (the problem came back)."""

    item_id: ItemId
    reason: Text


class ScoreProject(Command):
    """An improvement project's new IHI progress score, with the evidence for it.

    The project is named by its `improve` item (``item_id``) or, for a project started outside
    the ward programme, by ``project_id``. A score of 3.0 or more needs evidence: the aim's
    measure 20% of the way from baseline to target, or ``evidence_note`` saying why not.
    """

    item_id: ItemId | None = None
    project_id: Annotated[int, Field(gt=0)] | None = None
    score: Annotated[float, Field(ge=0.5, le=5.0, multiple_of=0.5)]
    why: Text
    evidence_note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = ""

    @model_validator(mode="after")
    def _one_project(self) -> ScoreProject:
        if (self.item_id is None) == (self.project_id is None):
            raise ValueError("name the project by its item (item_id) or its id (project_id)")
        return self

    @field_validator("score")
    @classmethod
    def _on_the_scale(cls, value: float) -> float:
        if value not in IHI_SCORES:
            raise ValueError(f"{value} is not on the IHI scale (0.5 to 5.0 in steps of 0.5)")
        return value


class DecideChange(Command):
    """The decision on a change request: approve (with an owner), decline, or defer to a date."""

    item_id: ItemId
    decision: ChangeDecision
    owner: Name
    note: Text
    review: date | None = None


# --- owners and the escalation ladder -------------------------------------------------------


class ImportOwners(Command):
    """The owners register (csv/xlsx: matrons, directorate leads, the executive): all or none."""

    path: Path


# --- trust-wide themes ----------------------------------------------------------------------

ThemeKey = Annotated[
    str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^T\d+$")
]


class MergeThemes(Command):
    """The team says these themes are one problem: their items move into ``into``."""

    into: ThemeKey
    themes: Annotated[list[ThemeKey], Field(min_length=1)]


class SplitTheme(Command):
    """The team says these items are a different problem: they get a theme of their own."""

    theme: ThemeKey
    item_ids: Annotated[list[ItemId], Field(min_length=1)]


# --- QSIR ----------------------------------------------------------------------------------


class ImportStaff(Command):
    """An ESR-style staff extract (csv/xlsx): all rows or none."""

    path: Path


class TakeRegister(Command):
    """One teaching day's register: who of the cohort's nominees was there."""

    cohort: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, min_length=1)]
    session_date: date
    present: list[StaffNumber] = Field(default_factory=list)
    absent: list[StaffNumber] | None = Field(
        default=None,
        description="Given explicitly (a register file); otherwise everyone not present",
    )


class RecordPresentation(Command):
    """A nominee presented their improvement project (the QSIR assessment)."""

    staff_number: StaffNumber


class LinkProject(Command):
    """A nominee's QSIR course project works on this improve item of their ward."""

    staff_number: StaffNumber
    item_id: ItemId


class WithdrawNominee(Command):
    """The nominee will not do the course (left the trust, changed role...)."""

    staff_number: StaffNumber
    reason: Text


class DeferNominee(Command):
    """The nominee will do the course later; their seat is released."""

    staff_number: StaffNumber
    reason: Text


class RequeueNominee(Command):
    """A deferred nominee goes back in the queue for the next cohort."""

    staff_number: StaffNumber


# --- engagement ----------------------------------------------------------------------------


class RescheduleEvent(Command):
    """Move a ward's engagement event (local Europe/London time)."""

    ward_code: WardCode
    wave: Annotated[int, Field(ge=1)]
    to: datetime
    reason: Text


class CancelEvent(Command):
    """Cancel a ward's engagement event (METHOD:CANCEL to everyone invited)."""

    ward_code: WardCode
    wave: Annotated[int, Field(ge=1)]
    reason: Text


class RecordEventHeld(Command):
    """The ward's engagement event took place: when, how many came (or who), who facilitated.

    The engagement stage completes on ``held_on`` and the triage template is chased from then.
    """

    ward_code: WardCode
    wave: Annotated[int, Field(ge=1)]
    held_on: date
    attendees: Annotated[int, Field(ge=1, le=500)] | None = None
    names: list[Name] | None = None
    facilitator: Name | None = None

    @model_validator(mode="after")
    def _who_came(self) -> RecordEventHeld:
        if self.attendees is None and not self.names:
            raise ValueError("give the number who attended (attendees) or their names")
        if self.attendees is not None and self.names and self.attendees < len(self.names):
            raise ValueError(f"{len(self.names)} names but attendees is {self.attendees}")
        return self


class DeferWard(Command):
    """An enrolled ward that cannot start (outbreak, closure...) moves to the next wave."""

    ward_code: WardCode
    reason: Text


class SetEngagementPreferences(Command):
    """When a ward can release staff for its engagement event."""

    ward_code: WardCode
    starts: list[str] | None = None
    avoid: list[Weekday] | None = None
    expected_attendees: Annotated[int, Field(ge=1, le=200)] | None = None

    @field_validator("starts")
    @classmethod
    def _times(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        times = [v.strip() for v in value if v.strip()]
        bad = [t for t in times if not _HHMM.match(t)]
        if bad:
            raise ValueError(f"{', '.join(map(repr, bad))}: start times are HH:MM, e.g. 13:30")
        if not times:
            raise ValueError("give at least one start time, e.g. 13:30")
        return times


# --- from the ward page ---------------------------------------------------------------------


class NominateStaff(Command):
    """The ward manager nominates staff from the ward's staff register (approval is theirs)."""

    ward_code: WardCode
    staff_numbers: Annotated[list[StaffNumber], Field(min_length=1)]
    course: Literal["practitioner", "fundamentals"] = "practitioner"


class RequestEventChange(Command):
    """The ward cannot make its engagement event: the team is asked to move it."""

    ward_code: WardCode
    reason: Text


class SubmitReturn(Command):
    """A returned triage template or tracker, uploaded rather than e-mailed."""

    ward_code: WardCode
    filename: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    content: bytes = Field(repr=False)

    def audit_fields(self) -> dict[str, object]:
        import hashlib

        # The file itself lives in the inbox; the audit row names it and its digest.
        return {
            "on": self.on.isoformat(),
            "ward_code": self.ward_code,
            "filename": self.filename,
            "sha256": hashlib.sha256(self.content).hexdigest(),
            "bytes": len(self.content),
        }


# --- improvement projects ------------------------------------------------------------------

ProjectId = Annotated[int, Field(gt=0)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


def _metric_keys(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    keys = [v.strip() for v in value if v.strip()]
    bad = [k for k in keys if k not in METRICS_BY_KEY]
    if bad:
        raise ValueError(
            f"{', '.join(map(repr, bad))}: not a diagnostic metric; one of "
            + ", ".join(METRICS_BY_KEY)
        )
    return list(dict.fromkeys(keys))


class ProjectRecord(BaseModel):
    """A project record's editable fields (None = leave as it is).

    One group wherever a project is started or changed: the start and update commands carry
    these fields, and the Prefect Run forms take them as one "record" section.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    aim: Note | None = None
    metrics: list[str] | None = Field(default=None, description="Ward diagnostic metric keys")
    team: list[Name] | None = None
    sponsor: Note | None = None
    lead: Note | None = None
    lead_email: str | None = None
    qi_coach: Note | None = None
    qi_coach_email: str | None = None
    strategic_aim: Note | None = None
    ppi_level: PpiLevel | None = None
    ppi_note: Note | None = None
    co2e_kg: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="Estimated CO2e, kg"
    )
    sustainability_note: Note | None = None
    rebase_at_first_adoption: bool | None = None
    # The numeric aim (checked as a whole against the record by the handler).
    aim_measure: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] | None = (
        Field(default=None, description="A ward diagnostic metric key, or its own measure's name")
    )
    aim_baseline: float | None = None
    aim_target: float | None = None
    aim_direction: Direction | None = None
    aim_by: date | None = None

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: list[str] | None) -> list[str] | None:
        return _metric_keys(value)

    @field_validator("lead_email", "qi_coach_email")
    @classmethod
    def _lead_email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().lower()
        if value and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an email address")
        return value


class _ProjectFields(Command, ProjectRecord):
    """A command on a project's record: the record's fields, and what it changes."""

    def changes(self) -> dict[str, Any]:
        skip = set(Command.model_fields) | {"project_id", "title", "ward_code"}
        return {
            k: getattr(self, k)
            for k in type(self).model_fields
            if k not in skip and getattr(self, k) is not None
        }


class StartProject(_ProjectFields):
    """A QI project started outside the ward programme (an `improve` item gets one itself)."""

    title: Name
    ward_code: WardCode | None = None


class UpdateProject(_ProjectFields):
    """Change a project's record: aim, measures, people, PPI, sustainability, status."""

    project_id: ProjectId
    title: Name | None = None
    status: ProjectStatus | None = None
    stop_reason: Note | None = None

    def changes(self) -> dict[str, Any]:
        out = super().changes()
        for name in ("title", "status", "stop_reason"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


class AddPdsa(Command):
    """One PDSA cycle: plan, prediction, what happened, what was learned, adopt/adapt/abandon."""

    project_id: ProjectId
    plan: Text
    prediction: Note = ""
    happened: Note = ""
    learned: Note = ""
    decision: PdsaDecision | None = None
    started_on: date | None = Field(default=None, description="Default: the action's date")


class RecordMeasurement(Command):
    """A value of the project's own measure (``on`` is the day it was measured): the evidence
    for a score when the aim is not one of the ward's diagnostic metrics."""

    project_id: ProjectId
    value: float
    note: Note = ""

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("a measurement is a finite number")
        return value


class LogCoaching(Command):
    """A QI adviser's coaching session with a project team (``on`` is the day it was held)."""

    project_id: ProjectId
    adviser: Name
    minutes: Annotated[int, Field(ge=1, le=600)]
    note: Note = ""


class RecordQiEvent(Command):
    """A QI Café or a training event (``on`` is the day), with attendees from the staff register."""

    event_kind: QiEventKind
    topic: Name
    attendees: list[StaffNumber] = Field(default_factory=list)


ALL_COMMANDS: tuple[type[Command], ...] = (
    CloseItem,
    ReopenItem,
    ScoreProject,
    DecideChange,
    ImportOwners,
    MergeThemes,
    SplitTheme,
    ImportStaff,
    TakeRegister,
    RecordPresentation,
    LinkProject,
    WithdrawNominee,
    DeferNominee,
    RequeueNominee,
    RescheduleEvent,
    CancelEvent,
    RecordEventHeld,
    DeferWard,
    SetEngagementPreferences,
    NominateStaff,
    RequestEventChange,
    SubmitReturn,
    StartProject,
    UpdateProject,
    AddPdsa,
    RecordMeasurement,
    LogCoaching,
    RecordQiEvent,
)


class CommandError(WardprogError):
    """A command's fields are not valid; the message names each bad field and value."""


C = TypeVar("C", bound=Command)


def build(kind: type[C], **fields: Any) -> C:
    """Make a command, turning pydantic's errors into one message a person can act on."""
    try:
        return kind(**fields)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or kind.__name__
            value = err.get("input")
            shown = "" if isinstance(value, dict) else f" (got {value!r})"
            problems.append(f"{where}: {err['msg']}{shown}")
        raise CommandError(f"{kind.__name__}: " + "; ".join(problems)) from None
