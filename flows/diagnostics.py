"""Diagnostics flows: the before/after re-check, and the pack's Prefect artifacts.

Thin wiring only: the work is in :mod:`wardprog.services.diagnostics`. Each flow takes ``as_of``
so the programme can be replayed on a simulated clock.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from sqlmodel import Session

from flows.common import (
    TRANSIENT,
    artifact_key,
    dated_run_name,
    on_its_day,
    runtime,
    ward_task_runner,
)
from wardprog.db import session_scope
from wardprog.services.diagnostics import (
    due_rechecks,
    pack_summary,
    prepare_rechecks,
    run_recheck,
)


@task(name="publish-pack-artifacts", task_run_name="pack artifacts {ward_code}")
def publish_pack_artifacts(ward_code: str, snapshot_id: int) -> str:
    """Publish a stored diagnostic snapshot as markdown + table artifacts; returns the markdown.

    Reads only the snapshot (no extracts), so the launch flow can call it for every ward after
    the diagnostic stage has committed.
    """
    _, engine = runtime()
    with Session(engine) as session:
        summary = pack_summary(session, ward_code, snapshot_id)
    create_markdown_artifact(
        key=artifact_key("diagnostic-pack", ward_code),
        markdown=summary.markdown,
        description=f"Diagnostic pack summary for {ward_code}",
    )
    create_table_artifact(
        key=artifact_key("diagnostic-metrics", ward_code),
        table=summary.table,
        description=f"Diagnostic metrics (latest, mean, limits, icons) for {ward_code}",
    )
    return summary.markdown


@task(
    name="recheck-ward",
    task_run_name="re-check {ward_code} as of {as_of}",
    **TRANSIENT,
    persist_result=False,
)
def recheck_ward_task(ward_code: str, as_of: date, batch: tuple[str, ...] = ()) -> dict[str, Any]:
    """Re-pull a ward 3 or 6 months after its engagement event and report what changed.

    ``batch``: the day's due wards, whose extract rows are read once and charted together.
    """
    logger = get_run_logger()
    settings, engine = runtime()
    with session_scope(engine) as session:
        result = run_recheck(session, settings, ward_code, as_of, batch)
    logger.info(result.message)
    if result.kind is not None:
        create_markdown_artifact(
            key=artifact_key("recheck", ward_code, result.kind),
            markdown=result.markdown(),
            description=result.message,
        )
    return {
        "ward_code": result.ward_code,
        "kind": result.kind,
        "event_date": result.event_date.isoformat() if result.event_date else None,
        "snapshot_id": result.snapshot_id,
        "created": result.created,
        "improvements": [c.metric for c in result.improvements],
        "concerns": [c.metric for c in result.concerns],
        "message": result.message,
    }


@flow(name="recheck-ward", flow_run_name=dated_run_name("re-check {ward_code} as of {as_of}"))
@on_its_day
def recheck_ward(ward_code: str, as_of: date) -> dict[str, Any]:
    """One ward's re-check on its own (the team asking for it); the daily run uses the task."""
    return recheck_ward_task(ward_code, as_of)


@flow(
    name="recheck-due-wards",
    flow_run_name=dated_run_name("re-checks due as of {as_of}"),
    task_runner=ward_task_runner(),
)
@on_its_day
def recheck_due_wards(as_of: date) -> list[dict[str, Any]]:
    """Every ward whose 3- or 6-month re-check has fallen due and is not yet done."""
    return run_due_rechecks(as_of)


def run_due_rechecks(as_of: date) -> list[dict[str, Any]]:
    """The body of a re-check run, for a flow with a thread-pool task runner to call.

    Each ward's re-check is a task (not a subflow) and they run concurrently: the day's due
    wards' extract rows are read once for them all (and charted together where their periods
    match), and each task writes only its own snapshot. The daily ``recheck-due`` flow
    calls this directly rather than through ``recheck_due_wards``: a subflow run a day is an
    API round trip and a flow-run page nobody reads.
    """
    settings, engine = runtime()
    with Session(engine) as session:
        wards = due_rechecks(session, as_of)
        # Read and chart the batch here, once: four task threads would otherwise start together
        # and three of them wait for the first to do it.
        prepare_rechecks(session, settings, wards, as_of)
    batch = tuple(wards)
    results = (
        [f.result() for f in recheck_ward_task.map(wards, unmapped(as_of), unmapped(batch))]
        if wards
        else []
    )
    if results:
        lines = [f"# Re-checks as of {as_of}", "", "| Ward | Re-check | Improved | Concern |"]
        lines.append("|---|---|---|---|")
        for r in results:
            lines.append(
                f"| {r['ward_code']} | {r['kind']} | {', '.join(r['improvements']) or '-'} | "
                f"{', '.join(r['concerns']) or '-'} |"
            )
        create_markdown_artifact(
            key=artifact_key("rechecks", as_of.isoformat()),
            markdown="\n".join(lines) + "\n",
            description=f"{len(results)} ward re-check(s) as of {as_of}",
        )
    return results
