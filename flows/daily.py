"""The morning round: the working day's follow-through jobs as one flow run.

daily_round: overdue triage reminders (change requests up the owners ladder first), project
             follow-up (the month's scoring prompts, stale projects), chasing returns not back
             after an event, the re-checks that have fallen due, and QSIR session reminders, in
             that order, every working day.

One flow run a morning instead of five: on a worker each deployment run is its own process
(its own start, imports and database connections) and its own page in the UI, for jobs that
usually find nothing to do; in the demo's replay each subflow also costs an API round trip or
more. Each job is the body of its own flow, called with ``.fn``, so its tasks and artifacts
belong to this run; those flows stay deployed for a run on demand (`prefect deployment run
triage-overdue-reminders/...`). A job that fails does not stop the others: the round runs every
job, then fails naming the ones that failed, so a broken job shows as a failed run on the day.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import Flow, flow, get_run_logger

from flows.chasing import chase_returns
from flows.common import dated_run_name, on_its_day, resolve_as_of, ward_task_runner
from flows.projects import project_follow_up
from flows.qsir import qsir_reminders
from flows.rechecks import recheck_due
from flows.triage import overdue_reminders

# In the order the replay and a working day run them: reminders before chasing, so an owner
# is chased about an item before the ward is chased about a return.
JOBS: tuple[tuple[str, Flow[..., Any]], ...] = (
    ("overdue reminders", overdue_reminders),
    ("project follow-up", project_follow_up),
    ("chase returns", chase_returns),
    ("re-checks", recheck_due),
    ("qsir reminders", qsir_reminders),
)


class DailyRoundError(RuntimeError):
    """One or more of the round's jobs failed (the others ran)."""


@flow(
    name="daily-round",
    flow_run_name=dated_run_name("daily round {as_of}"),
    log_prints=True,
    # The re-checks map one task per due ward onto this runner.
    task_runner=ward_task_runner(),
)
@on_its_day
def daily_round(as_of: date | None = None) -> dict[str, Any]:
    """Every working day: the follow-through jobs in order; a failed job fails the run last."""
    day = resolve_as_of(as_of)
    logger = get_run_logger()
    results: dict[str, Any] = {}
    failed: list[str] = []
    for name, job in JOBS:
        try:
            results[name] = job.fn(as_of=day)
        except Exception as exc:  # isolate the job: the rest of the round still runs
            logger.error("%s failed on %s: %s", name, day, exc, exc_info=True)
            failed.append(f"{name} ({type(exc).__name__}: {exc})")
        else:
            logger.info("%s done: %s", name, _summary(results[name]))
    if failed:
        raise DailyRoundError(f"daily round {day}: failed: " + "; ".join(failed))
    return results


def _summary(result: Any) -> str:
    """A job's result in one log line (counts, not the lists behind them)."""
    if isinstance(result, dict):
        return ", ".join(
            f"{k} {len(v) if isinstance(v, list | dict) else v}" for k, v in result.items()
        )
    return str(result)
