"""Use-cases: rules + persistence in one transaction. Flows call these; these never call Prefect.

The session rule, which every module here follows:

- **A function taking a ``Session`` never commits.** It reads, adds and ``flush``-es (when it
  needs ids) in its caller's transaction, and enqueues notifications on that same session, so
  what it wrote and what it announced commit or roll back together (the outbox).
- **A function taking an ``Engine`` owns its transaction.** It opens the session, commits on
  success and rolls back on error: the handlers in ``services/handlers/`` (one per command,
  one transaction each, audited), ``services/enrolment.run_stage`` (one per ward per stage) and
  ``notify/dispatch.dispatch_pending`` (short commits around each delivery).

Entry points (CLI, Prefect flows, the ward pages) therefore only translate input into a
command or a stage call and a ``WardprogError`` into an exit code or a failed run.

Stage services are packages split by concern (``diagnostics/``, ``engagement/``, ``triage/``,
``qsir/``, and ``projects/`` for the improvement projects); each package re-exports its public
names, so ``from wardprog.services import qsir`` reads as before. Lookups every way in shares
(a ward by code, a triage item by id) are in ``context``.
"""
