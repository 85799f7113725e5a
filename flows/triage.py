"""Triage flows: capture a ward's triage, and chase overdue items daily.

    capture_triage:      inbox folder  -> validate -> items + "you said, we will"
                         or (interactive) pause for the improvement team's form -> same rules
    overdue_reminders:   open items past due/review -> one reminder per item per week

The interactive path is for wards that hand the improvement team a paper sheet: the run pauses
in the Prefect UI with a form (one row per issue); a bad row re-opens the form with the errors
listed, so nothing is half imported and nobody has to start again.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import BaseModel, Field

from flows.common import (
    TRANSIENT,
    artifact_key,
    dated_run_name,
    form_until_accepted,
    on_its_day,
    resolve_as_of,
    runtime,
)
from wardprog.db import session_scope
from wardprog.errors import InputFileError, WardprogError
from wardprog.models.base import require_id
from wardprog.rules.triage import CATEGORIES, RawTriageRow, validate_rows
from wardprog.services.context import context_for_ward
from wardprog.services.triage import (
    capture_from_inbox,
    send_overdue_reminders,
    submit_rows,
    ward_items,
)


class TriageRejected(WardprogError):
    """A returned template was rejected; the ward manager has been told what to fix."""


class TriageFormRow(BaseModel):
    issue: str = Field(description="What gets in the way, in staff's own words")
    raised_by: str | None = Field(default=None, description="Optional; blank = anonymous")
    category: str = Field(description="fix, improve or change")
    suggested_owner: str | None = Field(default=None, description="Optional")
    notes: str | None = Field(default=None)


class TriageForm(RunInput):
    """The form the improvement team fills in the Prefect UI (one row per issue)."""

    rows: list[TriageFormRow] = Field(default_factory=list)


def form_rows(rows: list[dict[str, Any]]) -> list[RawTriageRow]:
    # Row numbers are 1-based positions in the form, as the team sees them.
    return [
        RawTriageRow(
            row=n,
            issue=r.get("issue"),
            raised_by=r.get("raised_by"),
            category=r.get("category"),
            suggested_owner=r.get("suggested_owner"),
            notes=r.get("notes"),
        )
        for n, r in enumerate(rows, start=1)
    ]


def _items_table(ward_code: str, as_of: date) -> list[dict[str, Any]]:
    settings, engine = runtime()
    with session_scope(engine) as session:
        ctx = context_for_ward(session, settings, ward_code, as_of)
        return [
            {
                "row": i.source_row,
                "category": i.category.value,
                "issue": i.issue,
                "raised_by": i.raised_by or "anonymous",
                "owner": i.owner,
                "due": str(i.due_date or i.review_date or ""),
            }
            for i in ward_items(session, require_id(ctx.ward), require_id(ctx.wave))
        ]


@task(**TRANSIENT, task_run_name="triage inbox · {ward_code}")
def capture_inbox_task(ward_code: str, as_of: date) -> dict[str, Any]:
    settings, engine = runtime()
    with session_scope(engine) as session:
        ctx = context_for_ward(session, settings, ward_code, as_of)
        results, errors = capture_from_inbox(ctx)
    return {
        "files": [r.source for r in results],
        "created": sum(len(r.created) for r in results),
        "rejected": [str(e) for e in errors],
    }


@task(task_run_name="triage form · {ward_code}")
def submit_form_task(ward_code: str, as_of: date, rows: list[dict[str, Any]]) -> dict[str, Any]:
    settings, engine = runtime()
    with session_scope(engine) as session:
        ctx = context_for_ward(session, settings, ward_code, as_of)
        result = submit_rows(
            session,
            settings,
            ctx.ward,
            ctx.wave,
            form_rows(rows),
            source=_form_source(ward_code),
            as_of=as_of,
        )
    return {"files": [result.source], "created": len(result.created), "rejected": []}


def _form_source(ward_code: str) -> str:
    return f"Prefect form for ward {ward_code}"


def _form_description(ward_code: str, problems: str = "") -> str:
    lines = [
        f"## Triage for ward {ward_code}",
        "",
        "Add one row per issue raised at the engagement event. Category is one of "
        + ", ".join(f"**{c}**" for c in CATEGORIES)
        + "; leave *raised by* blank for anonymous issues.",
    ]
    if problems:
        # Staff text must not be able to close the code block and inject markdown.
        lines += [
            "",
            "### Please correct and resubmit",
            "",
            "```",
            problems.replace("`", "'"),
            "```",
        ]
    return "\n".join(lines)


@flow(
    name="capture-triage",
    flow_run_name=dated_run_name("capture triage {ward_code} {as_of}"),
    log_prints=True,
)
@on_its_day
def capture_triage(
    ward_code: str,
    as_of: date,
    interactive: bool = False,
    pause_timeout_seconds: int = 3600,
    poll_interval_seconds: int = 10,
    max_form_attempts: int = 3,
) -> dict[str, Any]:
    """Capture a ward's triage from its inbox folder, or interactively from a Prefect form.

    Advancing the ward's enrolment stays with the orchestrator: its next run sees the items.
    """
    logger = get_run_logger()
    if not interactive:
        result = capture_inbox_task(ward_code, as_of)
        if result["rejected"]:
            # Committed already: the file is in rejected/ and the ward manager has been told.
            raise TriageRejected("\n\n".join(result["rejected"]))
        if not result["files"]:
            logger.info("No triage file in ward %s's inbox yet", ward_code)
    else:

        def ask(_attempt: int, problems: str) -> TriageForm:
            return pause_flow_run(
                wait_for_input=TriageForm.with_initial_data(
                    description=_form_description(ward_code, problems)
                ),
                timeout=pause_timeout_seconds,
                poll_interval=poll_interval_seconds,
            )

        def accept(form: TriageForm) -> tuple[dict[str, Any] | None, str]:
            rows = [r.model_dump() for r in form.rows]
            # The same validation as a file, before anything is written.
            _, found = validate_rows(form_rows(rows))
            if not found:
                return submit_form_task(ward_code, as_of, rows), ""
            problems = str(InputFileError(_form_source(ward_code), found))
            logger.warning("Triage form for %s rejected:\n%s", ward_code, problems)
            return None, problems

        result = form_until_accepted(
            ask,
            accept,
            max_attempts=max_form_attempts,
            give_up=lambda problems: TriageRejected(
                f"Triage form for ward {ward_code} still had problems after "
                f"{max_form_attempts} attempts:\n{problems}"
            ),
        )
    table = _items_table(ward_code, as_of)
    create_table_artifact(
        key=artifact_key("triage", ward_code),
        table=table,
        description=f"Triage items for ward {ward_code} as of {as_of}",
    )
    return {**result, "items": len(table)}


@task(task_run_name="overdue reminders {as_of}")
def overdue_reminders_task(as_of: date) -> list[dict[str, Any]]:
    _, engine = runtime()
    with session_scope(engine) as session:
        return [
            {"ward": n.ward_code, "subject": n.subject, "key": n.idempotency_key}
            for n in send_overdue_reminders(session, as_of)
        ]


@flow(
    name="overdue-reminders",
    flow_run_name=dated_run_name("overdue triage reminders {as_of}"),
    log_prints=True,
)
@on_its_day
def overdue_reminders(as_of: date | None = None) -> dict[str, Any]:
    """Daily: remind owners of overdue fix items and change reviews, at most weekly per item."""
    as_of = resolve_as_of(as_of)
    sent = overdue_reminders_task(as_of)
    lines = [f"# Overdue triage reminders, {as_of}", "", f"{len(sent)} reminder(s) queued."]
    lines += [f"- {s['ward']}: {s['subject']}" for s in sent]
    create_markdown_artifact(
        key=artifact_key("triage", "overdue", "reminders"),
        markdown="\n".join(lines),
        description=f"Overdue triage reminders queued on {as_of}",
    )
    return {"reminders": len(sent)}
