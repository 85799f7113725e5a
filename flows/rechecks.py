"""Re-checks in production: the scheduled door to the 3- and 6-month before/after re-checks.

recheck_due: every working day, each ward whose re-check has fallen due is re-pulled and
             judged (``flows.diagnostics.recheck_due_wards``); each verdict goes to the ward
             and the improvement team once, and shows on the dashboard.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow

from flows.common import resolve_as_of
from flows.diagnostics import recheck_due_wards


@flow(name="recheck-due", flow_run_name="re-checks due {as_of}", log_prints=True)
def recheck_due(as_of: date | None = None) -> dict[str, Any]:
    """Daily: run every re-check that has fallen due (none twice)."""
    results = recheck_due_wards(resolve_as_of(as_of))
    for r in results:
        print(r["message"])
    return {"rechecked": len(results), "wards": [r["ward_code"] for r in results]}
