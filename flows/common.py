"""Helpers shared by the flows: settings/engine, artifact keys, which failures are retried."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from datetime import date
from typing import Any, TypedDict, TypeVar, cast

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from wardprog import clock
from wardprog.config import Settings, get_settings
from wardprog.db import get_engine
from wardprog.errors import WardprogError

# What can succeed if tried again a few seconds later: the database was unreachable, dropped the
# connection, timed out, hit a lock or deadlock (OperationalError covers SQLite's "database is
# locked" and PostgreSQL's serialization failures and deadlocks), a concurrent run won a
# unique-key race (every stage is idempotent, so the retry finds the winner's rows), or the
# network failed.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    sa_exc.IntegrityError,
    ConnectionError,
    TimeoutError,
)


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
    return as_of or clock.today(get_settings().timezone)


FlowFn = TypeVar("FlowFn", bound=Callable[..., Any])


def on_its_day(fn: FlowFn) -> FlowFn:
    """Run a flow taking ``as_of`` on the engine's clock set to that day (``wardprog.clock``).

    Put it under ``@flow``: everything the run writes (``created_at``, notifications, stage
    dates) is then dated on the day it works on, whether a replay or a back-dated re-run calls
    it; a scheduled run (no ``as_of``) stays on the wall clock.
    """
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        as_of = signature.bind(*args, **kwargs).arguments.get("as_of")
        with clock.running_on(as_of, get_settings().timezone):
            return fn(*args, **kwargs)

    return cast(FlowFn, wrapper)


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


def failure_of(state: Any) -> BaseException | None:
    """The exception a failed Prefect state carries, if any."""
    data = getattr(state, "data", None)
    if isinstance(data, BaseException):
        return data
    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # a result that cannot be loaded says nothing about the cause
        return exc
    return result if isinstance(result, BaseException) else None


def is_transient(error: BaseException | None) -> bool:
    """Input errors (the ``WardprogError`` family) never succeed on retry; only these may."""
    if error is None or isinstance(error, WardprogError):
        return False
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, TRANSIENT_ERRORS)


def retry_transient(task: Any, task_run: Any, state: Any) -> bool:
    """``retry_condition_fn`` for stage tasks: retry the database and network, never bad input.

    A deterministic input error retried costs the run its retry delays and the ward manager
    nothing: the same file fails the same way (issue: 52 s instead of 12 for one bad file).
    """
    return is_transient(failure_of(state))


class RetryPolicy(TypedDict):
    retries: int
    retry_delay_seconds: list[float]
    retry_condition_fn: Callable[[Any, Any, Any], bool]


# The one retry policy of every task that reads or writes the database (``@task(**TRANSIENT,
# ...)``): a lock, a dropped connection or a lost race is tried again after 5 s, then 30 s (a
# server restart or failover takes longer than a lock); bad input fails at once.
TRANSIENT: RetryPolicy = {
    "retries": 2,
    "retry_delay_seconds": [5, 30],
    "retry_condition_fn": retry_transient,
}

F = TypeVar("F")
R = TypeVar("R")


def form_until_accepted(
    ask: Callable[[int, str], F],
    accept: Callable[[F], tuple[R | None, str]],
    *,
    max_attempts: int,
    give_up: Callable[[str], BaseException],
) -> R:
    """The one "pause for a form, validate, ask again" loop of every flow that waits for input.

    ``ask(attempt, problems)`` pauses the run with the form (``problems`` is empty the first
    time, else what was wrong with the last submission); ``accept(form)`` validates it exactly as
    a returned file would be and returns ``(result, "")`` or ``(None, problems)``. After
    ``max_attempts`` refused submissions the run fails with ``give_up(problems)``.
    """
    problems = ""
    for attempt in range(1, max_attempts + 1):
        result, problems = accept(ask(attempt, problems))
        if not problems:
            return cast(R, result)
    raise give_up(problems)
