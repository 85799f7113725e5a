"""QSIR training flows: nominations, session reminders and completions.

    nominate_ward:      read the ward's nomination return -> book cohorts -> invites
                        (interactive: no return yet -> pause for the Prefect UI form -> same path)
    qsir_reminders:     reminders a few days before each teaching day
    record_completions: completion rule -> plan cohorts a year ahead -> seat the waitlist -> KPIs

All take ``as_of`` so the programme can be replayed on a simulated clock; all are idempotent.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run
from pydantic import Field

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
from wardprog.errors import InputFileError, RowProblem
from wardprog.services import qsir
from wardprog.services.context import context_for_ward
from wardprog.services.qsir_kpis import training_kpis


class NominationForm(RunInput):
    """What the ward manager fills in on the paused flow run in the Prefect UI."""

    staff_numbers: list[str] = Field(
        min_length=1, description="ESR staff numbers of the staff nominated, one per entry"
    )
    course: Literal["practitioner", "fundamentals"] = Field(
        default="practitioner", description="QSIR Practitioner (5 days) or Fundamentals (1 day)"
    )
    approved_by: str = Field(
        min_length=1,
        description="Name of the ward manager approving release of these staff for study days",
    )


@task(**TRANSIENT, task_run_name="qsir stage · {ward_code}")
def nominate_task(ward_code: str, as_of: date) -> dict[str, Any]:
    settings, engine = runtime()
    with session_scope(engine) as session:
        ctx = context_for_ward(session, settings, ward_code, as_of)
        outcome = qsir.run_qsir_stage(ctx)
        return {
            "ward": ward_code,
            "manager": ctx.ward.manager_name,
            "done": outcome.done,
            "summary": outcome.summary,
            "nominations": outcome.details.get("nominations", []),
            "rejected": outcome.details.get("rejected", []),
        }


@task(task_run_name="record form nominations · {ward_code}")
def record_form_task(ward_code: str, form: NominationForm, run_id: str) -> str:
    """The form becomes a nomination return in the inbox: one validated path, one audit trail."""
    settings, _ = runtime()
    path = qsir.write_nomination_return(
        settings,
        ward_code,
        [(n.strip(), form.course, form.approved_by.strip()) for n in form.staff_numbers],
        f"prefect-form-{run_id}.csv",
    )
    return str(path)


def _publish(result: dict[str, Any]) -> None:
    if result["nominations"]:
        create_table_artifact(
            key=artifact_key("qsir", result["ward"], "nominations"),
            table=result["nominations"],
            description=f"QSIR nominations for {result['ward']}: {result['summary']}",
        )


@flow(
    name="qsir-nominate-ward", flow_run_name=dated_run_name("qsir nominations {ward_code} {as_of}")
)
@on_its_day
def nominate_ward(
    ward_code: str,
    as_of: date,
    interactive: bool = False,
    timeout_seconds: int = 7 * 24 * 3600,
    poll_seconds: int = 10,
    max_attempts: int = 3,
) -> dict[str, Any]:
    """Record a ward's QSIR nominations and book them onto cohorts.

    With ``interactive`` and no return in the inbox, the run pauses with a form for the ward
    manager; what they submit is validated exactly like a returned file, and if it is refused
    the form comes back with the problems listed (up to ``max_attempts`` times).
    """
    logger = get_run_logger()
    result = nominate_task(ward_code, as_of)
    refused: list[InputFileError] = []

    def ask(attempt: int, problems: str) -> tuple[int, NominationForm]:
        description = (
            f"QSIR nominations for ward {ward_code}: up to the ward's allowance of Practitioner "
            f"places. {result['manager'] or 'The ward manager'} must approve."
        )
        if problems:
            description += f"\n\nThe last submission was refused:\n{problems}"
        form = pause_flow_run(
            wait_for_input=NominationForm.with_initial_data(
                description=description, approved_by=result["manager"] or ""
            ),
            timeout=timeout_seconds,
            poll_interval=poll_seconds,
            key=f"nominations-{attempt}",
        )
        assert form is not None
        return attempt, form

    def accept(submission: tuple[int, NominationForm]) -> tuple[dict[str, Any] | None, str]:
        attempt, form = submission
        path = record_form_task(ward_code, form, f"{flow_run.id}-{attempt}")
        submitted = nominate_task(ward_code, as_of)
        if not submitted["rejected"]:
            return submitted, ""
        # The stage set the refused submission aside in rejected/; show the form again.
        err = InputFileError(
            Path(path).name,
            [RowProblem(**p) for r in submitted["rejected"] for p in r["problems"]],
        )
        refused.append(err)
        logger.warning("form nominations for %s refused:\n%s", ward_code, err)
        return None, "\n".join(f"- {p}" for p in err.problems)

    if interactive and not result["done"] and not result["nominations"]:
        result = form_until_accepted(
            ask, accept, max_attempts=max_attempts, give_up=lambda _problems: refused[-1]
        )
    _publish(result)
    logger.info("%s: %s", ward_code, result["summary"])
    return result


@task(task_run_name="qsir reminders {as_of}")
def reminders_task(as_of: date) -> int:
    _, engine = runtime()
    with session_scope(engine) as session:
        return qsir.send_session_reminders(session, as_of)


@flow(name="qsir-reminders", flow_run_name=dated_run_name("qsir reminders {as_of}"))
@on_its_day
def qsir_reminders(as_of: date | None = None) -> int:
    """Enqueue reminders for teaching days in the next few days; returns how many are new."""
    return reminders_task(resolve_as_of(as_of))


@task(task_run_name="qsir completions {as_of}")
def completions_task(as_of: date) -> dict[str, Any]:
    settings, engine = runtime()
    with session_scope(engine) as session:
        report = qsir.evaluate_completion(session, as_of)
        allocation = qsir.refresh_allocations(session, settings, as_of)
        kpis = training_kpis(session, as_of, settings.qsir_target_trained)
        return {
            "completed": len(report.completed),
            "deferred": len(report.deferred),
            "awaiting_project": len(report.awaiting_project),
            "awaiting_register": len(report.awaiting_register),
            "booked_from_waitlist": len(allocation.booked),
            "kpis": kpis,
        }


@flow(name="qsir-record-completions", flow_run_name=dated_run_name("qsir completions {as_of}"))
@on_its_day
def record_completions(as_of: date | None = None) -> dict[str, Any]:
    """Apply the completion rule, seat the waitlist in new cohorts and publish training KPIs."""
    day = resolve_as_of(as_of)
    result = completions_task(day)
    kpis = result["kpis"]
    create_markdown_artifact(
        key=artifact_key("qsir", "training"),
        markdown=(
            f"# QSIR Practitioner training as of {day}\n\n"
            f"- **Trained**: {kpis['trained']} of {kpis['target']} "
            f"({kpis['percent_of_target']}%)\n"
            f"- **In training**: {kpis['in_training']}; **waitlisted**: {kpis['waitlisted']}\n"
            f"- **Completed this run**: {result['completed']}; deferred: {result['deferred']}; "
            f"booked from the waitlist: {result['booked_from_waitlist']}\n"
            f"- **Target forecast**: {kpis['forecast_target_date'] or 'not within horizon'} "
            f"({kpis['forecast_basis']})\n\n"
            "| Site | Nominated | In training | Trained |\n|---|---:|---:|---:|\n"
            + "\n".join(
                f"| {r['site']} | {r['nominated']} | {r['in_training']} | {r['trained']} |"
                for r in kpis["by_site"]
            )
        ),
        description=f"QSIR training KPIs as of {day}",
    )
    return result


__all__ = [
    "NominationForm",
    "nominate_ward",
    "qsir_reminders",
    "record_completions",
]
