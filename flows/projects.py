"""Improvement projects' follow-up, daily: the monthly IHI scoring prompt to each active
project's lead and stale projects flagged to the improvement team and the QI coach (each
message once; the outbox keys carry the month or the quiet spell)."""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from flows.common import artifact_key, on_its_day, resolve_as_of, runtime
from wardprog.db import session_scope
from wardprog.services.projects.charts import refresh_project_packs
from wardprog.services.projects.followup import send_scoring_prompts, send_stale_flags


@task(task_run_name="project follow-up {as_of}")
def project_follow_up_task(as_of: date) -> dict[str, list[str]]:
    settings, engine = runtime()
    with session_scope(engine) as session:
        prompts = send_scoring_prompts(session, as_of)
        stale = send_stale_flags(session, as_of, settings.project_stale_days)
        return {"prompts": [n.subject for n in prompts], "stale": [n.subject for n in stale]}


@task(task_run_name="project measure charts in packs {as_of}")
def refresh_packs_task(as_of: date) -> list[str]:
    settings, engine = runtime()
    with session_scope(engine) as session:
        return [str(p) for p in refresh_project_packs(session, settings, as_of)]


@flow(name="project-follow-up", flow_run_name="project follow-up {as_of}", log_prints=True)
@on_its_day
def project_follow_up(as_of: date | None = None) -> dict[str, Any]:
    """Monthly scoring prompts (and packs with project charts), stale flags; safe daily."""
    as_of = resolve_as_of(as_of)
    sent = project_follow_up_task(as_of)
    # Once a month (the run that sends the month's prompts), the wards' packs are re-rendered
    # with their projects' measure charts, so the month's PDSA cycles and data show.
    packs = refresh_packs_task(as_of) if sent["prompts"] else []
    lines = [
        f"# Project follow-up, {as_of}",
        "",
        f"{len(sent['prompts'])} scoring prompt(s), {len(sent['stale'])} stale flag(s).",
    ]
    lines += [f"- {s}" for s in sent["stale"]]  # fmt: skip
    create_markdown_artifact(
        key=artifact_key("projects", "follow", "up"),
        markdown="\n".join(lines),
        description=f"Project scoring prompts and stale flags on {as_of}",
    )
    return {"prompts": len(sent["prompts"]), "stale": len(sent["stale"]), "packs": len(packs)}
