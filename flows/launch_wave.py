"""Quarterly wave launch: open the wave due on ``as_of`` and take every ward as far as it can go.

    open wave -> for each stage: diagnostic, engagement, triage, qsir -> each ward
              -> artifacts (wards x stages table, summary, progress)

Stages that wait for ward staff (triage templates, nomination returns) leave the ward where it
is; `advance_wards` picks them up on a later run (daily in production, on the simulated clock
in a replay).
"""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task, unmapped
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.exceptions import ObjectNotFound
from sqlmodel import Session, col, select

from flows.common import (
    TRANSIENT,
    artifact_key,
    dated_run_name,
    on_its_day,
    resolve_as_of,
    runtime,
    ward_task_runner,
)
from flows.diagnostics import publish_pack_artifacts
from wardprog import queries
from wardprog.db import session_scope
from wardprog.models import Stage, WardEnrolment, Wave
from wardprog.models.base import require_id
from wardprog.services.enrolment import (
    WORK_STAGES,
    after_stage,
    before_stage,
    is_past,
    run_stage,
)
from wardprog.services.programme import (
    DEFAULT_PROGRAMME,
    get_programme,
    open_wave,
    wave_wards,
)


@task(**TRANSIENT, task_run_name="open wave due {as_of}")
def open_wave_task(as_of: date, programme_name: str) -> dict[str, Any] | None:
    settings, engine = runtime()
    with session_scope(engine) as session:
        programme = get_programme(session, programme_name)
        opened = open_wave(session, settings, programme, as_of)
    if opened is None:
        return None
    return {"wave_id": opened.wave_id, "number": opened.number, "created": opened.created}


@task(
    **TRANSIENT,
    task_run_name="{stage.value} · {ward_code}",
    # The outcome lives in the database; Prefect only hands it back to this flow run.
    persist_result=False,
)
def stage_task(
    enrolment_id: int,
    ward_code: str,
    stage: Stage,
    as_of: date,
    plan: dict[str, Any] | None = None,
) -> dict[str, Any]:
    settings, engine = runtime()
    outcome = run_stage(engine, settings, enrolment_id, stage, as_of, plan)
    get_run_logger().info("%s %s: %s", stage.value, ward_code, outcome.summary)
    return {"done": outcome.done, "summary": outcome.summary, **outcome.details}


@task(
    **TRANSIENT,
    task_run_name="{stage.value} · the wave's deciding step",
    persist_result=False,
)
def before_stage_task(
    stage: Stage, as_of: date, enrolment_ids: list[int]
) -> dict[int, dict[str, Any]]:
    settings, engine = runtime()
    plans = before_stage(engine, settings, stage, as_of, enrolment_ids)
    get_run_logger().info("%s: %d ward(s) given a slot", stage.value, len(plans))
    return plans


@task(
    **TRANSIENT,
    task_run_name="{stage.value} · the wave's shared step",
    persist_result=False,
)
def after_stage_task(stage: Stage, as_of: date, wave_id: int) -> None:
    settings, engine = runtime()
    line = after_stage(engine, settings, stage, as_of, wave_id)
    if line:
        get_run_logger().info("%s: %s", stage.value, line)


def _open_wave_ids(programme_name: str) -> list[int]:
    _, engine = runtime()
    with Session(engine) as session:
        programme = get_programme(session, programme_name)
        return queries.open_wave_ids(session, require_id(programme))


def _wave_rows(wave_id: int) -> list[dict[str, Any]]:
    _, engine = runtime()
    with Session(engine) as session:
        return queries.wave_ward_rows(session, wave_id)


# Stages whose per-ward work is independent of the other wards of the wave run concurrently:
# every stage. What one ward's turn decides for the others is decided for the whole wave in a
# fixed order, by the wave's own steps: engagement slots before the wards' turns
# (``PLANNED_STAGES``), triage themes and QSIR seats after them (``SHARED_STEP_STAGES``). The
# same wave always gets the same slots, themes and seats.
CONCURRENT_STAGES: frozenset[Stage] = frozenset(
    {Stage.diagnostic, Stage.engagement, Stage.triage, Stage.qsir}
)


# The deployment (prefect.yaml) that runs one site's wards through one concurrent stage.
BATCH_DEPLOYMENT = "ward-stage-batch/ward-stage-batch"
# How long a wave's flow run waits for its site batches. A batch whose worker died stays
# "Running" in the API (a killed process reports nothing): after this the wave's run goes on
# without it, its wards wait, and the next run (daily-advance) takes them on - once, since
# every stage is idempotent and commits each ward in its own transaction.
BATCH_TIMEOUT_SECONDS = 1800


def _map_stage(
    stage: Stage,
    wards: list[tuple[int, str]],
    as_of: date,
    plans: dict[int, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    futures = stage_task.map(
        [e for e, _ in wards],
        [w for _, w in wards],
        unmapped(stage),
        unmapped(as_of),
        [(plans or {}).get(e) for e, _ in wards],
    )
    return [f.result() for f in futures]


def _from_a_deployment() -> bool:
    """This flow run came from a deployment, so a worker of the pool runs it (not a replay)."""
    from prefect.runtime import deployment

    return deployment.id is not None


def _stages(enrolment_ids: list[int]) -> dict[int, Stage]:
    _, engine = runtime()
    with Session(engine) as session:
        rows = session.exec(
            select(WardEnrolment.id, WardEnrolment.stage).where(
                col(WardEnrolment.id).in_(enrolment_ids)
            )
        ).all()
    return {int(i): Stage(st) for i, st in rows if i is not None}


async def _run_batches(
    stage: Stage, batches: dict[str, list[tuple[int, str]]], as_of: date, timeout: float
) -> list[Any]:
    from prefect.deployments import arun_deployment
    from prefect.runtime import flow_run

    parent = flow_run.id or "local"
    return list(
        await asyncio.gather(
            *(
                arun_deployment(
                    BATCH_DEPLOYMENT,
                    parameters={
                        "site": site,
                        "enrolment_ids": [e for e, _ in wards],
                        "ward_codes": [w for _, w in wards],
                        "stage": stage.value,
                        "as_of": as_of.isoformat(),
                    },
                    timeout=timeout,
                    poll_interval=1,
                    # A retried parent finds its batches instead of starting them twice.
                    idempotency_key=f"{parent}:{stage.value}:{site}",
                )
                for site, wards in batches.items()
            )
        )
    )


def _fan_out(
    stage: Stage,
    wards: list[tuple[int, str]],
    site_of: dict[str, str],
    as_of: date,
    timeout: float,
) -> list[dict[str, Any]]:
    """One deployment run per site, on whichever workers of the pool are free; then the
    outcome read back from the database (the batches' own results need no shared storage)."""
    logger = get_run_logger()
    ids = [e for e, _ in wards]
    before = _stages(ids)
    batches: dict[str, list[tuple[int, str]]] = {}
    for enrolment_id, ward in wards:
        # A ward past this stage has nothing to do: no worker process is started for it.
        if not is_past(before[enrolment_id], stage):
            batches.setdefault(site_of[ward], []).append((enrolment_id, ward))
    runs = asyncio.run(_run_batches(stage, batches, as_of, timeout)) if batches else []
    for site, run in zip(batches, runs, strict=True):
        if run.state is None or not run.state.is_completed():
            logger.warning(
                "%s batch for site %s ended %s: its wards wait for the next run",
                stage.value,
                site,
                run.state.name if run.state else "without a state",
            )
    after = _stages(ids)
    return [
        {
            "done": is_past(after[e], stage),
            "skipped": is_past(before[e], stage),
            "summary": "done in a site batch" if is_past(after[e], stage) else "waiting",
        }
        for e in ids
    ]


# Stages with a step deciding for the whole wave before the wards' own work
# (``enrolment.before_stage``).
PLANNED_STAGES: frozenset[Stage] = frozenset({Stage.engagement})

# Stages with a step for the whole wave after the wards' own work (``enrolment.after_stage``).
SHARED_STEP_STAGES: frozenset[Stage] = frozenset({Stage.triage, Stage.qsir})

# Stages a wave on a worker sends out as site batches (other processes, on any worker). Triage
# stays here, on threads: a ward's import is a few statements, less than a batch run costs to
# start, and its one shared decision (themes) is the wave's own step after it in any case.
BATCH_STAGES: frozenset[Stage] = frozenset({Stage.diagnostic})


def _run_stage_for_wards(
    stage: Stage,
    wards: list[tuple[int, str]],
    as_of: date,
    site_of: dict[str, str] | None = None,
    batch_timeout: float = BATCH_TIMEOUT_SECONDS,
    plans: dict[int, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    if not wards:
        return []
    if stage in CONCURRENT_STAGES:
        fan_out = stage in BATCH_STAGES and len(set((site_of or {}).values())) > 1
        if site_of and fan_out and _from_a_deployment():
            try:
                return _fan_out(stage, wards, site_of, as_of, batch_timeout)
            except ObjectNotFound:
                get_run_logger().warning(
                    "deployment %s not found (prefect deploy --all): the wave runs here",
                    BATCH_DEPLOYMENT,
                )
        return _map_stage(stage, wards, as_of, plans)
    return [stage_task(e, w, stage, as_of, (plans or {}).get(e)) for e, w in wards]


def _publish_packs(packs: list[tuple[str, int]]) -> None:
    if packs:
        for future in publish_pack_artifacts.map([w for w, _ in packs], [s for _, s in packs]):
            future.result()


@flow(
    name="ward-stage-batch",
    flow_run_name="{stage} · site {site} · {as_of}",
    task_runner=ward_task_runner(),
)
def stage_batch(
    site: str, enrolment_ids: list[int], ward_codes: list[str], stage: Stage, as_of: date
) -> dict[str, int]:
    """One site's wards of a wave through a stage that needs nothing from other wards.

    Started by the wave's flow run (``run_deployment``) when it runs on a worker, so a wave's
    diagnostic packs (the heaviest per-ward work) spread over the work pool; the deciding
    stages (engagement slots, trust-wide triage themes, QSIR seats) stay in the wave's own run.
    """
    wards = list(zip(enrolment_ids, ward_codes, strict=True))
    results = _map_stage(stage, wards, as_of)
    _publish_packs(
        [
            (w, r["snapshot_id"])
            for (_, w), r in zip(wards, results, strict=True)
            if r.get("snapshot_id")
        ]
    )
    return {
        "done": sum(1 for r in results if r["done"] and not r.get("skipped")),
        "waiting": sum(1 for r in results if not r["done"]),
    }


def advance_wave_wards(
    wave_id: int, as_of: date, batch_timeout: float = BATCH_TIMEOUT_SECONDS
) -> dict[str, int]:
    """Run every ward of one wave through as many stages as it can go, stage by stage.

    Stage by stage across the wave (rather than ward by ward): the wave's deciding step before a
    stage (engagement slots) and its shared step after one (themes, QSIR seats) see every ward's
    turn at once, and the team sees one stage finishing before the next. The wards' own turns
    are mapped concurrently; on a worker, the diagnostic stage goes out as one deployment run
    per site.
    """
    _, engine = runtime()
    with Session(engine) as session:
        wave = session.get(Wave, wave_id)
        number = wave.number if wave else wave_id
        rows = wave_wards(session, wave_id)
        wards = [(require_id(e), w.code) for e, w, _ in rows]
        site_of = {w.code: s.code for _, w, s in rows}
        reached = {w.code: e.stage for e, w, _ in rows}
    progress_id = create_progress_artifact(
        progress=0.0,
        key=artifact_key("wave", number, "progress"),
        description=f"Wave {number}: ward stages attempted as of {as_of}",
    )
    blocked: set[str] = set()
    counts = {"done": 0, "waiting": 0}
    for n, stage in enumerate(WORK_STAGES, start=1):
        todo = [(e, w) for e, w in wards if w not in blocked]
        # A ward already past this stage when the run began would only say "already done":
        # no task run for it (most of a wave's wards on most days, once the wave is under way).
        due = [(e, w) for e, w in todo if not is_past(reached[w], stage)]
        plans = (
            before_stage_task(stage, as_of, [e for e, _ in due])
            if stage in PLANNED_STAGES and due
            else None
        )
        results = _run_stage_for_wards(stage, due, as_of, site_of, batch_timeout, plans)
        if stage in SHARED_STEP_STAGES and todo:
            after_stage_task(stage, as_of, wave_id)
        packs: list[tuple[str, int]] = []
        for (_, ward), result in zip(due, results, strict=True):
            if stage is Stage.diagnostic and result.get("snapshot_id"):
                packs.append((ward, result["snapshot_id"]))
            if result["done"]:
                counts["done"] += 0 if result.get("skipped") else 1
            else:
                blocked.add(ward)
                counts["waiting"] += 1
        _publish_packs(packs)
        # One update per stage, not per ward: each is an API round trip.
        update_progress_artifact(progress_id, progress=100.0 * n / len(WORK_STAGES))  # type: ignore[arg-type]
    _publish_wave_artifacts(wave_id, number, as_of)
    return counts


def _publish_wave_artifacts(wave_id: int, number: int, as_of: date) -> None:
    rows = _wave_rows(wave_id)
    create_table_artifact(
        key=artifact_key("wave", number, "wards"),
        table=rows,
        description=f"Wave {number}: wards and stages as of {as_of}",
    )
    by_stage: dict[str, int] = {}
    for row in rows:
        by_stage[row["stage"]] = by_stage.get(row["stage"], 0) + 1
    lines = [f"# Wave {number} as of {as_of}", "", "| stage | wards |", "|---|---|"]
    lines += [f"| {stage} | {n} |" for stage, n in sorted(by_stage.items())]
    waiting = [r["ward"] for r in rows if r["stage"] != Stage.complete.value]
    if waiting:
        lines += ["", f"Waiting on ward staff: {', '.join(waiting)}"]
    packs = [(r["ward"], r["name"], r["pack"]) for r in rows if r["pack"]]
    if packs:
        lines += ["", "## Diagnostic packs", ""]
        lines += [f"- [{code} {name}]({Path(p).resolve().as_uri()})" for code, name, p in packs]
    create_markdown_artifact(
        key=artifact_key("wave", number, "summary"),
        markdown="\n".join(lines),
        description=f"Wave {number} summary",
    )


@flow(
    name="launch-wave",
    flow_run_name=dated_run_name("launch wave due {as_of}"),
    log_prints=True,
    task_runner=ward_task_runner(),
)
@on_its_day
def launch_wave(
    as_of: date | None = None,
    programme: str = DEFAULT_PROGRAMME,
    batch_timeout: float = BATCH_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Open the quarter's wave (idempotent) and advance its wards as far as they can go.

    ``batch_timeout``: seconds to wait for each site batch on the pool (see ``stage_batch``).
    """
    as_of = resolve_as_of(as_of)
    logger = get_run_logger()
    opened = open_wave_task(as_of, programme)
    if opened is None:
        logger.info("Every ward is already enrolled; no wave to launch on %s", as_of)
        return {"wave": None}
    logger.info("Wave %s %s", opened["number"], "opened" if opened["created"] else "already open")
    counts = advance_wave_wards(opened["wave_id"], as_of, batch_timeout)
    return {"wave": opened["number"], "created": opened["created"], **counts}


@flow(
    name="advance-wards",
    flow_run_name=dated_run_name("advance open waves {as_of}"),
    log_prints=True,
    task_runner=ward_task_runner(),
)
@on_its_day
def advance_wards(
    as_of: date | None = None,
    programme: str = DEFAULT_PROGRAMME,
    batch_timeout: float = BATCH_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Daily: pick up returned templates and move every open wave's wards on."""
    as_of = resolve_as_of(as_of)
    summary: dict[str, Any] = {}
    for wave_id in _open_wave_ids(programme):
        summary[str(wave_id)] = advance_wave_wards(wave_id, as_of, batch_timeout)
    return summary
