"""Chasing returns: daily, remind ward managers (then matrons) of forms not back after events.

chase_returns: triage templates and QSIR nomination forms not back 7 days after the event
               is held -> the ward manager; 14 days -> the ward's matron; each once.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, task

from flows.common import on_its_day, resolve_as_of, runtime
from wardprog.db import session_scope
from wardprog.services.chasing import chase_returns as chase


@task(task_run_name="chase returns {as_of}")
def chase_task(as_of: date) -> list[dict[str, Any]]:
    settings, engine = runtime()
    with session_scope(engine) as session:
        return [c.__dict__ for c in chase(session, settings, as_of)]


@flow(name="chase-returns", flow_run_name="chase returns {as_of}", log_prints=True)
@on_its_day
def chase_returns(as_of: date | None = None) -> dict[str, Any]:
    """Daily: chase triage templates and nomination forms not back after the event."""
    chased = chase_task(resolve_as_of(as_of))
    for c in chased:
        print(f"{c['ward_code']}: {c['what']} chased with the {c['who']} ({c['days']} days)")
    return {"chased": len(chased), "chases": chased}
