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

Everything here must run before Prefect is first imported: Prefect reads these at import.
"""

from __future__ import annotations

import os
from pathlib import Path

CONSOLE_LEVELS = ("WARNING", "INFO", "DEBUG")


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
    return home


def api_description() -> str:
    """Which Prefect API this process talks to, in words for the command line."""
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return f"Prefect server at {url}"
    return f"Prefect's local API on {os.environ.get('PREFECT_HOME', 'var/prefect')}"
