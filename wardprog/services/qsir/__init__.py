"""QSIR training: nominations, cohorts and allocation, invites, lifecycle, completion, the stage.

The package re-exports every public name of its modules, so ``from wardprog.services import qsir``
and ``qsir.run_qsir_stage`` keep working wherever they were used.
"""

from wardprog.errors import NotFoundError  # what get_nomination raises
from wardprog.services.qsir.allocation import (
    AllocationResult,
    allocate_pending,
    refresh_allocations,
    seat_new_nominations,
)
from wardprog.services.qsir.cohorts import (
    COHORT_HORIZON_DAYS,
    cohort_dates,
    ensure_cohorts,
)
from wardprog.services.qsir.completion import (
    FUNDAMENTALS_RULE,
    AttendanceError,
    CompletionReport,
    evaluate_completion,
    mark_project_presented,
    record_attendance,
)
from wardprog.services.qsir.invites import (
    COURSE_TITLES,
    LONDON,
    REMINDER_DAYS_BEFORE,
    SESSION_END,
    SESSION_START,
    booking_invite,
    notify_booking,
    notify_waitlisted,
    send_session_reminders,
    session_times,
)
from wardprog.services.qsir.lifecycle import (
    ACTIVE,
    PENDING,
    TRANSITIONS,
    NominationStateError,
    get_nomination,
)
from wardprog.services.qsir.nominations import (
    NOMINATION_COLUMNS,
    NOMINATION_INBOX,
    NOMINATION_WHAT,
    REQUIRED_NOMINATION_COLUMNS,
    NominationLine,
    nomination_inbox,
    parse_course,
    read_nomination_return,
    record_nominations,
    write_nomination_return,
)
from wardprog.services.qsir.stage import (
    run_qsir_stage,
    take_nominations,
    ward_nominations,
)
from wardprog.services.qsir.withdrawals import (
    defer_nomination,
    requeue_nomination,
    withdraw_nomination,
)

__all__ = [
    "ACTIVE",
    "COHORT_HORIZON_DAYS",
    "COURSE_TITLES",
    "FUNDAMENTALS_RULE",
    "LONDON",
    "NOMINATION_COLUMNS",
    "NOMINATION_INBOX",
    "NOMINATION_WHAT",
    "PENDING",
    "REMINDER_DAYS_BEFORE",
    "REQUIRED_NOMINATION_COLUMNS",
    "SESSION_END",
    "SESSION_START",
    "TRANSITIONS",
    "AllocationResult",
    "AttendanceError",
    "CompletionReport",
    "NominationLine",
    "NominationStateError",
    "NotFoundError",
    "allocate_pending",
    "booking_invite",
    "cohort_dates",
    "defer_nomination",
    "ensure_cohorts",
    "evaluate_completion",
    "get_nomination",
    "mark_project_presented",
    "nomination_inbox",
    "notify_booking",
    "notify_waitlisted",
    "parse_course",
    "read_nomination_return",
    "record_attendance",
    "record_nominations",
    "refresh_allocations",
    "requeue_nomination",
    "run_qsir_stage",
    "seat_new_nominations",
    "send_session_reminders",
    "session_times",
    "take_nominations",
    "ward_nominations",
    "withdraw_nomination",
    "write_nomination_return",
]
