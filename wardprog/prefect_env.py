"""How the `wardprog` command runs Prefect: where its state lives, which API, how loud.

- State: ``PREFECT_HOME`` defaults to ``var/prefect`` under the working directory (beside
  ``var/wardprog.db``), so flow runs made from the command line are kept and the UI started with
  the same ``PREFECT_HOME`` shows them.
- API: with no ``PREFECT_API_URL`` Prefect starts its local API for the command's lifetime on
  that state; set ``PREFECT_API_URL`` (e.g. ``http://127.0.0.1:4200/api``) to use a running
  server instead, which also saves the few seconds the local API takes to start.
- Logs: flow and task runs send INFO and above to the API, so the Prefect UI shows every run's
  log; only the console is quiet (warnings and errors) unless ``-v`` (INFO) or ``-vv`` (DEBUG).
  Prefect's ``PREFECT_LOGGING_LEVEL`` filters at the loggers, before the API handler sees a
  record, so it is left at INFO; the console handler's own level is what ``-v`` changes.
- Server: the local API records task runs in batches (:data:`SERVER_TUNING`), see
  :func:`tune_local_server`.

Everything here must run before Prefect is first imported: Prefect reads these at import.
"""

from __future__ import annotations

import os
from pathlib import Path

CONSOLE_LEVELS = ("WARNING", "INFO", "DEBUG")

# Prefect's task run recorder writes each task-run event in its own SQLite transaction by
# default (batch size 1), and its event persister every 20 events. A subflow's start creates
# its tracking task run through the API in a deferred transaction; when either service commits
# between that transaction's read and its write, SQLite answers SQLITE_BUSY at once
# (busy_timeout does not apply to a stale snapshot), the API returns 503 and the client waits
# 2 s before retrying. Measured on the demo's first quarter: 5 such waits in a 32 s replay;
# with the recorder batched, none, and 20 s. Twelve subflows of 20 tasks each: 11 waits with
# Prefect's defaults, 10 with the recorder batched, 2 with the events batched too (the rest
# meet a flush, every 5 s). The UI sees task runs and events at most one flush (5 s) later; a
# server shutting down flushes what it holds, if it can within 5 s.
# Why not flush less often: measured 2026-12-03, the waits still cost 16 s of the first four
# months' replay (8 retries, each 2 s: the client's fixed back-off). Flushing every 60 s instead
# removed them all, but lost 687 of a demo's 1164 task runs: Prefect stops its local API with
# SIGTERM and kills it 5 s later (SubprocessASGIServer.stop), before a minute's final flush.
#
# The local API gets 90 s to start instead of Prefect's 20: on a fresh machine its first start
# was seen to take longer than 20 s, failing `make demo` ("Timed out while attempting to connect
# to ephemeral Prefect API server"); the same command passed at once on a second try. Likely
# (not measured) the cold start's module compiling and new database's migrations. A warm start
# takes a few seconds; the longer limit costs those nothing.
SERVER_TUNING = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE": "1000",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}


def tune_local_server() -> None:
    """:data:`SERVER_TUNING` for a Prefect API this process starts (explicit settings win).

    Must run before that API starts: the local API's subprocess inherits this environment.
    A Prefect server started apart (`prefect server start`) takes the same variables.
    """
    for key, value in SERVER_TUNING.items():
        os.environ.setdefault(key, value)


def configure_prefect(verbosity: int = 0, default_home: Path | None = None) -> Path:
    """Set Prefect's environment for this process (explicit settings win); returns PREFECT_HOME.

    ``default_home`` replaces ``var/prefect`` when PREFECT_HOME is unset (the demo's own).
    """
    home = Path(os.environ.get("PREFECT_HOME") or default_home or Path.cwd() / "var" / "prefect")
    os.environ["PREFECT_HOME"] = str(home)
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    level = CONSOLE_LEVELS[min(max(verbosity, 0), len(CONSOLE_LEVELS) - 1)]
    if verbosity or "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL" not in os.environ:
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = level
    if verbosity >= 2:
        os.environ["PREFECT_LOGGING_LEVEL"] = "DEBUG"
    os.environ.setdefault("PREFECT_LOGGING_TO_API_LEVEL", "INFO")
    tune_local_server()
    return home


def api_description() -> str:
    """Which Prefect API this process talks to, in words for the command line."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return f"Prefect server at {url}"
    return f"Prefect's local API on {os.environ.get('PREFECT_HOME', 'var/prefect')}"
