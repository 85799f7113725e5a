"""The improvement team's inbox, filed daily.

file_team_returns (weekdays): every register the team dropped in <inbox>/team/<kind>/ (ward
    register, staff, owners, QSIR attendance) is imported and moved to processed/, or rejected
    whole to rejected/ with its errors file and one message to the team (services/team_inbox.py)
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact

from flows.common import TRANSIENT, artifact_key, dated_run_name, resolve_as_of, runtime
from wardprog.services.team_inbox import file_team_returns as file_returns


@task(**TRANSIENT, task_run_name="file team returns {as_of}")
def file_task(as_of: date) -> list[dict[str, Any]]:
    settings, engine = runtime()
    return [filed.as_json() for filed in file_returns(engine, settings, as_of)]


@flow(
    name="file-team-returns",
    flow_run_name=dated_run_name("file team returns {as_of}"),
    log_prints=True,
)
def file_team_returns(as_of: date | None = None) -> dict[str, Any]:
    """Daily: file every register the improvement team dropped in its inbox."""
    as_of = resolve_as_of(as_of)
    filed = file_task(as_of)
    for f in filed:
        if f["outcome"] == "rejected":
            get_run_logger().warning(
                "%s %s rejected (the team has been told): %s", f["kind"], f["file"], f["summary"]
            )
        else:
            print(f"{f['kind']} {f['file']}: {f['summary']}")
    if filed:
        create_table_artifact(
            key=artifact_key("team", "returns"),
            table=filed,
            description=f"Team returns filed on {as_of}",
        )
    return {
        "filed": sum(1 for f in filed if f["outcome"] == "filed"),
        "rejected": sum(1 for f in filed if f["outcome"] == "rejected"),
        "files": filed,
    }
