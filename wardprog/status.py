"""Read models for `wardprog status`: kept as a name other modules import; see ``queries``.

Every figure lives in :mod:`wardprog.queries`, the one read side the dashboard, `status`, the
digest and the flows' artifacts share.
"""

from __future__ import annotations

from wardprog.queries import (
    STATUS_DATES,
    WardStatus,
    notification_counts,
    stage_counts,
    table_counts,
    triage_counts,
    unenrolled_wards,
    ward_statuses,
)

__all__ = [
    "STATUS_DATES",
    "WardStatus",
    "notification_counts",
    "stage_counts",
    "table_counts",
    "triage_counts",
    "unenrolled_wards",
    "ward_statuses",
]
