"""Helpers shared by the flows: settings/engine for the current process, artifact keys."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any, cast

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from sqlalchemy.engine import Engine

from wardprog.config import Settings, get_settings
from wardprog.db import get_engine


def runtime() -> tuple[Settings, Engine]:
    settings = get_settings()
    return settings, get_engine(settings.database_url)


# Threads for a flow's concurrent per-ward tasks; each holds one database connection while it
# runs (PostgreSQL's pool: 5, plus 10 overflow), and on two cores more threads only queue.
WARD_THREADS = 4


def ward_task_runner(max_workers: int = WARD_THREADS) -> TaskRunner[Any]:
    """The task runner for flows that map per-ward tasks: a bounded thread pool."""
    return cast(TaskRunner[Any], ThreadPoolTaskRunner(max_workers=max_workers))


def artifact_key(*parts: object) -> str:
    """Prefect artifact keys allow only lowercase letters, digits and dashes."""
    raw = "-".join(str(p) for p in parts).lower()
    return re.sub(r"[^a-z0-9-]+", "-", raw).strip("-")


def resolve_as_of(as_of: date | None) -> date:
    """Deployments run on the real clock; replays pass the simulated date."""
    return as_of or date.today()


def dated_run_name(template: str) -> Callable[[], str]:
    """A flow-run namer that shows the date the run works on, also when ``as_of`` is omitted.

    Prefect formats a string template with the parameters as passed, so a scheduled run (no
    ``as_of``) would be named "... None"; this resolves the date the flow itself will use.
    """

    def name() -> str:
        from prefect.runtime import flow_run

        params = dict(flow_run.parameters)
        if params.get("as_of") is None:
            params["as_of"] = resolve_as_of(None)
        return template.format(**params)

    return name
