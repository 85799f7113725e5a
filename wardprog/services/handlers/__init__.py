"""One handler per command, and the bus that runs it in one transaction with its audit row.

    entry point (CLI, Prefect form, tracker row, ward page) -> Command
        -> handle(engine, command): one transaction
             handler(session, settings, command) -> Outcome   (the existing services)
             Action row: who, on what date, command + fields, source, outcome, ward, item
        -> ActionResult (the audit row's id for the caller to show)

A command that fails (any :class:`WardprogError`) rolls the whole transaction back: nothing is
written, not even an audit row, and the error reaches the caller with its message. Rejected
attempts are the caller's to report (the CLI prints them and exits 2; a Prefect run fails with
the message; a rejected tracker gets a reply to the ward manager). Keeping the ``action`` table
to what actually happened means every row in it is an effect someone can see.
"""

from wardprog import commands as c
from wardprog.services.handlers import (  # noqa: F401  (importing registers each handler)
    engagement,
    follow_through,
    projects,
    qsir,
    triage,
    ward_page,
)
from wardprog.services.handlers.bus import (
    HANDLERS,
    ActionResult,
    Handler,
    Outcome,
    handle,
    handle_all,
    handler,
    run,
)

__all__ = [
    "HANDLERS",
    "ActionResult",
    "Handler",
    "Outcome",
    "handle",
    "handle_all",
    "handler",
    "run",
]


def _check_complete() -> None:
    """Every command has its handler once the modules above are imported (fails at import)."""
    missing = [k.__name__ for k in c.ALL_COMMANDS if k not in HANDLERS]
    if missing:
        raise RuntimeError(f"commands without a handler: {', '.join(missing)}")


_check_complete()
