"""Monthly programme dashboard: static HTML for the team and board, plus a Prefect artifact."""

from __future__ import annotations

from datetime import date

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from sqlmodel import Session

from flows.common import (
    TRANSIENT,
    artifact_key,
    dated_run_name,
    on_its_day,
    resolve_as_of,
    runtime,
)
from wardprog.reports.dashboard import dashboard_data, render_dashboard


@task(**TRANSIENT)
def write_dashboard_task(as_of: date) -> str:
    settings, engine = runtime()
    with Session(engine) as session:
        data = dashboard_data(session, settings, as_of)
    path = settings.output_dir / "dashboard.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_dashboard(data), encoding="utf-8")
    share = f"{100 * data.ihi_share:.0f}%" if data.ihi_share is not None else "n/a"
    create_markdown_artifact(
        key=artifact_key("programme", "dashboard"),
        markdown=(
            f"# Programme dashboard {as_of}\n\n"
            f"- Dashboard: [{path.name}]({path.resolve().as_uri()})\n"
            f"- QSIR trained: **{data.trained} / {data.target_trained}**\n"
            f"- Overdue triage items: **{len(data.overdue)}**\n"
            f"- Completed improvement projects scoring ≥ 3.0: **{share}** (target 75%)\n"
            f"- SPC signals in baseline packs: **{len(data.signals)}**\n"
        ),
        description="Monthly programme dashboard",
    )
    return str(path)


@flow(name="programme-report", flow_run_name=dated_run_name("programme report {as_of}"))
@on_its_day
def programme_report(as_of: date | None = None) -> str:
    return write_dashboard_task(resolve_as_of(as_of))
