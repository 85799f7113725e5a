"""Re-checks in production: the scheduled door to the 3- and 6-month before/after re-checks.

recheck_due: every working day, each ward whose re-check has fallen due is re-pulled and
             judged (``flows.diagnostics.run_due_rechecks``); each verdict goes to the ward
             and the improvement team once, and shows on the dashboard.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow

from flows.common import on_its_day, resolve_as_of, ward_task_runner
from flows.diagnostics import run_due_rechecks


@flow(
    name="recheck-due",
    flow_run_name="re-checks due {as_of}",
    log_prints=True,
    task_runner=ward_task_runner(),
)
@on_its_day
def recheck_due(as_of: date | None = None) -> dict[str, Any]:
    """Daily: run every re-check that has fallen due (none twice), each ward a task."""
    results = run_due_rechecks(resolve_as_of(as_of))
    for r in results:
        print(r["message"])
    return {"rechecked": len(results), "wards": [r["ward_code"] for r in results]}
