"""Ward trackers: the monthly tracker out, returned trackers in.

ward_trackers (weekdays): from the first working day of each month, every enrolled ward
    with open items gets its tracker (once a month: the outbox key is the month); every
    returned tracker in <inbox>/<WARD>/tracker/ becomes CloseItem / ScoreProject commands
    through the same bus as the CLI, and the manager gets a reply
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from sqlmodel import Session

from flows.common import artifact_key, dated_run_name, on_its_day, resolve_as_of, runtime
from wardprog.db import session_scope
from wardprog.services.tracker import (
    collect_returns,
    enrolled_wards,
    pending_returns,
    send_monthly_trackers,
)


@task(task_run_name="send trackers {as_of}")
def send_trackers_task(as_of: date) -> list[str]:
    _, engine = runtime()
    with session_scope(engine) as session:
        return send_monthly_trackers(session, as_of)


@task(task_run_name="tracker returns · {ward_code}")
def collect_task(ward_code: str, as_of: date) -> dict[str, Any]:
    settings, engine = runtime()
    with session_scope(engine) as session:
        ward = next(w for w in enrolled_wards(session) if w.code == ward_code)
        outcomes = collect_returns(session, settings, ward, as_of)
    return {
        "ward": ward_code,
        "recorded": [r.summary for o in outcomes for r in o.recorded],
        "rejected": [str(o.error) for o in outcomes if o.error is not None],
    }


@flow(name="ward-trackers", flow_run_name=dated_run_name("ward trackers {as_of}"), log_prints=True)
@on_its_day
def ward_trackers(as_of: date | None = None) -> dict[str, Any]:
    """Send this month's trackers (once) and record every returned one."""
    as_of = resolve_as_of(as_of)
    logger = get_run_logger()
    sent = send_trackers_task(as_of)
    settings, engine = runtime()
    with Session(engine) as session:
        waiting = [w.code for w in enrolled_wards(session) if pending_returns(settings, w.code)]
    results = [collect_task(code, as_of) for code in waiting]
    recorded = sum(len(r["recorded"]) for r in results)
    rejected = [e for r in results for e in r["rejected"]]
    for problem in rejected:
        logger.warning("Tracker rejected (the ward manager has been told):\n%s", problem)
    lines = [
        f"# Ward trackers, {as_of}",
        "",
        f"- trackers sent: {len(sent)}",
        f"- returns recorded: {sum(1 for r in results if r['recorded'] or not r['rejected'])}",
        f"- updates recorded: {recorded}",
        f"- returns rejected: {len(rejected)}",
    ]
    create_markdown_artifact(
        key=artifact_key("ward", "trackers"),
        markdown="\n".join(lines),
        description=f"Ward trackers on {as_of}",
    )
    return {"sent": sent, "recorded": recorded, "rejected": len(rejected)}
