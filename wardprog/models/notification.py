"""The notification outbox: written in the same transaction as the change that causes it.

Lifecycle (see ``wardprog.notify.dispatch``): ``pending`` rows are claimed by a dispatcher,
which records one entry per delivery target in ``deliveries`` and ends the row as ``sent`` or,
after ``Settings.notify_max_attempts`` failed attempts, ``dead`` with the reason in
``last_error``. A pending row whose ``next_attempt_at`` is in the future is either backing off
after a failure or leased by a running dispatcher (``claimed_by`` says which).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from wardprog.models.base import created_at_field, json_field, tz_datetime_field


class NotificationStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    dead = "dead"


class Notification(SQLModel, table=True):
    # The dispatcher's claim query: pending rows due by now, oldest first.
    __table_args__ = (Index("ix_notification_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # e.g. "invite:W-A01:wave-1:v0" - a retry or re-run finds the row and sends nothing new.
    idempotency_key: str = Field(unique=True, index=True, max_length=200)
    kind: str = Field(max_length=40, index=True)
    # apprise tags the message is routed by: the ward code, the site code, "improvement-team".
    tags: list[str] = json_field(list)
    ward_code: str | None = Field(default=None, max_length=32, index=True)
    recipients: list[str] = json_field(list)
    subject: str = Field(max_length=300)
    body_text: str
    body_html: str = ""
    # [{"filename": ..., "content_type": ..., "content_b64": ...}]
    attachments: list[dict[str, Any]] = json_field(list)
    status: NotificationStatus = Field(
        default=NotificationStatus.pending, max_length=16, index=True
    )
    # Attempts started (counted when claimed, so a dispatcher that crashes mid-send still uses
    # one up and a message that kills the dispatcher cannot loop forever).
    attempts: int = 0
    last_error: str = ""
    next_attempt_at: datetime | None = tz_datetime_field()
    # "host:pid" of the dispatcher holding the lease; empty when nobody is sending it.
    claimed_by: str = Field(default="", max_length=100)
    created_at: datetime = created_at_field()
    sent_at: datetime | None = tz_datetime_field()
    # One entry per target per attempt: {"target", "recipient", "ok", "attempt", "at", "error"};
    # "target" is a redacted URL (never a secret).
    deliveries: list[dict[str, Any]] = json_field(list)
