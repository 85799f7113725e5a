"""Triage: capture of returned templates, the triage stage, follow-up of items.

The package re-exports every public name of its modules, so ``wardprog.services.triage`` imports
keep working.
"""

from wardprog.rules.triage import IHI_SCORES  # the handlers read the scale from here
from wardprog.services.triage.capture import (
    TRIAGE_SCORER,
    ImportResult,
    capture_from_inbox,
    defaults_from,
    import_entries,
    submit_rows,
    triage_inbox,
)
from wardprog.services.triage.followup import (
    TriageError,
    close_item,
    decide_change,
    latest_scores,
    overdue_items,
    reopen_item,
    score_history,
    send_overdue_reminders,
)
from wardprog.services.triage.stage import (
    run_triage_stage,
    ward_items,
)

__all__ = [
    "IHI_SCORES",
    "TRIAGE_SCORER",
    "ImportResult",
    "TriageError",
    "capture_from_inbox",
    "close_item",
    "decide_change",
    "defaults_from",
    "import_entries",
    "latest_scores",
    "overdue_items",
    "reopen_item",
    "run_triage_stage",
    "score_history",
    "send_overdue_reminders",
    "submit_rows",
    "triage_inbox",
    "ward_items",
]
