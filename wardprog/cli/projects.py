"""`wardprog projects ...`, `wardprog pdsa add`, `wardprog coaching add`, `wardprog qi-events
...` and `wardprog kpis`: improvement projects, their logs, QI Café/training, the scorecard."""

from __future__ import annotations

import inspect
import json
from datetime import date
from typing import Annotated, Any

import typer

from wardprog.cli.actions import (
    EvidenceNote,
    Fields,
    Json,
    ScoreValue,
    ScoreWhy,
    action,
    parse_date,
    print_rows,
)
from wardprog.cli.common import LazyChoice

projects_app = typer.Typer(
    help="Improvement projects: list, start (outside the programme) and update them.",
    invoke_without_command=True,
)
pdsa_app = typer.Typer(help="PDSA cycles of an improvement project.")
coaching_app = typer.Typer(help="QI advisers' coaching sessions with project teams.")
qi_events_app = typer.Typer(help="QI Café and QI training events, with their attendees.")

ProjectId = Annotated[
    int, typer.Argument(metavar="PROJECT", help="The project's id (first column of `projects`).")
]
COLUMNS = (
    "id",
    "ward_code",
    "item_id",
    "status",
    "ihi_score",
    "title",
    "lead",
    "qi_coach",
    "strategic_aim",
    "ppi_level",
    "co2e_kg",
    "metrics",
    "pdsa_cycles",
    "coaching_sessions",
)
Metric = Annotated[
    list[str] | None,
    typer.Option(
        "--metric", help="A ward diagnostic metric it measures (repeat).", show_default=False
    ),
]
Member = Annotated[
    list[str] | None, typer.Option("--team", help="A team member (repeat).", show_default=False)
]
Aim = Annotated[str | None, typer.Option("--aim", help="What, by how much, by when.")]
Sponsor = Annotated[str | None, typer.Option(help="The project's sponsor.")]
Lead = Annotated[str | None, typer.Option(help="The project lead.")]
LeadEmail = Annotated[str | None, typer.Option(help="The lead's email (monthly scoring prompt).")]
Coach = Annotated[str | None, typer.Option("--coach", help="The QI coach.")]
CoachEmail = Annotated[
    str | None, typer.Option("--coach-email", help="The coach's email (stale-project flags).")
]
Strategic = Annotated[
    str | None, typer.Option("--strategic-aim", help="One of the trust's strategic aims.")
]
Ppi = Annotated[
    str | None,
    typer.Option(
        "--ppi",
        click_type=LazyChoice("wardprog.models", "PpiLevel"),
        help="Patient and public involvement.",
    ),
]
PpiNote = Annotated[str | None, typer.Option(help="How patients and the public are involved.")]
Co2e = Annotated[float | None, typer.Option("--co2e-kg", help="Estimated CO2e saving, kg.")]
SusNote = Annotated[
    str | None, typer.Option("--sustainability-note", help="The sustainable-healthcare aspect.")
]
AimMeasure = Annotated[
    str | None,
    typer.Option(
        "--aim-measure",
        help="The aim's measure: a ward diagnostic metric key, or the name of its own measure.",
    ),
]
Baseline = Annotated[float | None, typer.Option(help="The aim's measure at the start.")]
Target = Annotated[float | None, typer.Option(help="Where the aim's measure should get to.")]
Direction = Annotated[
    str | None, typer.Option(metavar="increase|decrease", help="Which way is better.")
]
AimBy = Annotated[
    date | None,
    typer.Option("--aim-by", parser=parse_date, metavar="DATE", help="By when."),
]
Rebase = Annotated[
    bool | None,
    typer.Option(
        "--rebase/--no-rebase", help="Measure chart: re-compute limits at the first adopted change."
    ),
]


@projects_app.callback()
def list_projects(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            click_type=LazyChoice("wardprog.models", "ProjectStatus"),
            help="active, completed, stopped.",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Every improvement project with its people, PPI, sustainability and logs."""
    from sqlmodel import Session

    from wardprog.db import get_engine

    if ctx.invoked_subcommand is not None:
        return
    from wardprog.models import ProjectStatus
    from wardprog.services.projects import project_rows

    with Session(get_engine()) as session:
        rows = project_rows(session, ProjectStatus(status) if status else None)
    print_rows(rows, COLUMNS, title="Improvement projects", as_json=as_json)


@projects_app.command("chart")
def chart(
    project_id: ProjectId,
    metric: Annotated[str, typer.Option(help="Which of its measures (a diagnostic metric key).")],
    as_of: Annotated[
        date | None,
        typer.Option("--as-of", parser=parse_date, metavar="DATE", help="Default today."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per point.")] = False,
) -> None:
    """The project's measure chart (Making Data Count XmR, as `wardprog spc`), PDSAs marked."""
    from sqlmodel import Session

    from wardprog.cli.common import fail
    from wardprog.config import get_settings
    from wardprog.db import get_engine
    from wardprog.errors import WardprogError
    from wardprog.services.projects import get_project
    from wardprog.services.projects.charts import measure_chart

    try:
        with Session(get_engine()) as session:
            project = get_project(session, project_id)
            if metric not in project.metrics:
                raise WardprogError(
                    f"project {project_id} measures {', '.join(project.metrics) or 'nothing yet'}"
                    f", not {metric!r} (add it with `projects update --metric`)"
                )
            result = measure_chart(session, get_settings(), project, metric, as_of or date.today())
    except WardprogError as exc:
        fail(exc)
    if as_json:
        for p in result["points"]:
            typer.echo(json.dumps(p))
        return
    print_rows(
        result["points"],
        ("date", "value", "mean", "lpl", "upl", "point_type", "rule"),
        title=f"{result['project_title']}: {result['label']}",
        as_json=False,
    )
    marks = "; ".join(f"P{m['number']} {m['date']} {m['decision'] or ''}" for m in result["pdsa"])
    typer.echo(f"PDSA: {marks or 'none'}")


@projects_app.command("pack")
def pack(
    ward: Annotated[str, typer.Argument(metavar="WARD", help="Ward code.")],
    as_of: Annotated[
        date | None,
        typer.Option("--as-of", parser=parse_date, metavar="DATE", help="Default today."),
    ] = None,
) -> None:
    """Re-render the ward's diagnostic pack with its projects' measure charts."""
    from wardprog.cli.common import fail
    from wardprog.config import get_settings
    from wardprog.db import get_engine, session_scope
    from wardprog.errors import WardprogError
    from wardprog.services.projects.charts import write_ward_pack

    try:
        with session_scope(get_engine()) as session:
            path = write_ward_pack(session, get_settings(), ward.upper(), as_of or date.today())
    except WardprogError as exc:
        fail(exc)
    typer.echo(str(path))


# The record's options as `start` and `update` name them: the option, its type and help, and
# the command's field it fills.
RECORD: dict[str, tuple[Any, str]] = {
    "aim": (Aim, "aim"), "metric": (Metric, "metrics"), "team": (Member, "team"),
    "sponsor": (Sponsor, "sponsor"), "lead": (Lead, "lead"),
    "lead_email": (LeadEmail, "lead_email"), "coach": (Coach, "qi_coach"),
    "coach_email": (CoachEmail, "qi_coach_email"), "strategic_aim": (Strategic, "strategic_aim"),
    "ppi": (Ppi, "ppi_level"), "ppi_note": (PpiNote, "ppi_note"), "co2e_kg": (Co2e, "co2e_kg"),
    "sustainability_note": (SusNote, "sustainability_note"),
    "aim_measure": (AimMeasure, "aim_measure"), "baseline": (Baseline, "aim_baseline"),
    "target": (Target, "aim_target"), "direction": (Direction, "aim_direction"),
    "aim_by": (AimBy, "aim_by"), "rebase": (Rebase, "rebase_at_first_adoption"),
}  # fmt: skip
RECORD_OPTIONS = [
    inspect.Parameter(option, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=None)
    for option, (kind, _field) in RECORD.items()
]


def _record(options: dict[str, Any]) -> dict[str, Any]:
    """The project-record options of a `start` or `update` call, under the command's names."""
    return {field: options[option] for option, (_kind, field) in RECORD.items()}


@action(projects_app, "start", "StartProject", options=RECORD_OPTIONS)
def start(
    title: Annotated[str, typer.Argument(help="The project's title.")],
    ward: Annotated[str | None, typer.Option(help="Its ward's code, if it has one.")] = None,
    **record: Any,
) -> Fields:
    """Start a project outside the ward programme (`improve` items have one already)."""
    return {"title": title, "ward_code": ward, **_record(record)}


@action(projects_app, "update", "UpdateProject", options=RECORD_OPTIONS)
def update(
    project_id: ProjectId,
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            click_type=LazyChoice("wardprog.models", "ProjectStatus"),
            help="active, completed or stopped (needs --reason).",
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Why it was stopped.")] = None,
    **record: Any,
) -> Fields:
    """Change a project's record (only the options given)."""
    return {
        "project_id": project_id,
        "title": title,
        **_record(record),
        "status": status,
        "stop_reason": reason,
    }


@action(projects_app, "score", "ScoreProject")
def score(
    project_id: ProjectId,
    value: ScoreValue,
    why: ScoreWhy,
    evidence_note: EvidenceNote = "",
) -> Fields:
    """Record a project's IHI progress score (3.0+ needs its measure's evidence or a note)."""
    return {"project_id": project_id, "score": value, "why": why, "evidence_note": evidence_note}


@action(projects_app, "measure", "RecordMeasurement")
def measure(
    project_id: ProjectId,
    value: Annotated[float, typer.Argument(metavar="VALUE", help="The measure's value.")],
    note: Annotated[str, typer.Option(help="How it was measured, anything unusual.")] = "",
) -> Fields:
    """Record a value of the project's own measure on --on (evidence for its score)."""
    return {"project_id": project_id, "value": value, "note": note}


@action(pdsa_app, "add", "AddPdsa")
def pdsa_add(
    project_id: ProjectId,
    plan: Annotated[str, typer.Option(help="What change is tested, how.")],
    prediction: Annotated[str, typer.Option(help="What the team expects to happen.")] = "",
    happened: Annotated[str, typer.Option(help="What happened (Do/Study).")] = "",
    learned: Annotated[str, typer.Option(help="What was learned.")] = "",
    decision: Annotated[
        str | None,
        typer.Option(
            click_type=LazyChoice("wardprog.models", "PdsaDecision"),
            help="adopt, adapt or abandon (Act).",
        ),
    ] = None,
    started: Annotated[
        date | None,
        typer.Option(
            parser=parse_date, metavar="DATE", help="When the cycle began (default --on)."
        ),
    ] = None,
) -> Fields:
    """Log a PDSA cycle (it is marked on the project's measure chart)."""
    return {
        "project_id": project_id,
        "plan": plan,
        "prediction": prediction,
        "happened": happened,
        "learned": learned,
        "decision": decision,
        "started_on": started,
    }


@action(coaching_app, "add", "LogCoaching")
def coaching_add(
    project_id: ProjectId,
    adviser: Annotated[str, typer.Option(help="The QI adviser who coached.")],
    minutes: Annotated[int, typer.Option(help="How long, in minutes.")],
    note: Annotated[str, typer.Option(help="What was covered.")] = "",
) -> Fields:
    """Log a coaching session (a project with one counts as coached)."""
    return {"project_id": project_id, "adviser": adviser, "minutes": minutes, "note": note}


Attendee = Annotated[
    list[str] | None,
    typer.Option("--attendee", help="Staff number of someone there (repeat).", show_default=False),
]
Topic = Annotated[str, typer.Option(help="The event's topic.")]


@action(qi_events_app, "qi-cafe", "RecordQiEvent")
def qi_cafe(topic: Topic, attendee: Attendee = None) -> Fields:
    """Record a QI Café (open to all staff) held on --on, with who came."""
    from wardprog.models import QiEventKind

    return {"event_kind": QiEventKind.qi_cafe, "topic": topic, "attendees": attendee or []}


@action(qi_events_app, "training", "RecordQiEvent")
def training(topic: Topic, attendee: Attendee = None) -> Fields:
    """Record a QI Fundamentals-or-similar training event: attendees count as trained."""
    from wardprog.models import QiEventKind

    return {"event_kind": QiEventKind.training, "topic": topic, "attendees": attendee or []}


def kpis(
    as_of: Annotated[
        date | None,
        typer.Option("--as-of", parser=parse_date, metavar="DATE", help="Default today."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="A JSON list, for scripts.")] = False,
) -> None:
    """The QI strategy's scorecard: each KPI's value, target, numerator/denominator, met."""
    from rich.table import Table
    from sqlmodel import Session

    from wardprog.cli.common import console
    from wardprog.config import get_settings
    from wardprog.db import get_engine
    from wardprog.queries import report_date
    from wardprog.services.scorecard import scorecard

    with Session(get_engine()) as session:
        day, said = report_date(session, get_settings(), as_of)
        rows = scorecard(session, get_settings(), day)
    if as_json:
        typer.echo(json.dumps([r.as_json() for r in rows]))
        return
    # The ISO date first (scripts read the title); a defaulted date says why it was chosen.
    why = said.partition(" (")[2].rstrip(")")
    table = Table(title=f"QI scorecard to {day.isoformat()}" + (f" ({why})" if why else ""))
    for name in ("KPI", "value", "target", "numerator", "denominator", "met"):
        table.add_column(name)
    for r in rows:
        table.add_row(
            r.label,
            r.shown,
            str(r.target),
            str(r.numerator),
            str(r.denominator),
            "yes" if r.met else "no",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(projects_app, name="projects")
    app.add_typer(pdsa_app, name="pdsa")
    app.add_typer(coaching_app, name="coaching")
    app.add_typer(qi_events_app, name="qi-events")
    app.command("kpis")(kpis)
