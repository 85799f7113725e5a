"""Reschedule and cancel flows: history kept, calendar updates queued, re-runs change nothing."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlmodel import Session, select

from flows.engagement import cancel_engagement, reschedule_engagement
from tests.utils.factories import make_context
from wardprog.config import Settings
from wardprog.errors import NotFoundError
from wardprog.models import Notification
from wardprog.services.engagement import run_engagement_stage


def test_reschedule_then_cancel_through_flows(
    session: Session, settings: Settings, prefect_harness: None
) -> None:
    ctx = make_context(session, settings, as_of=date(2026, 1, 5))
    run_engagement_stage(ctx)
    session.commit()
    code = ctx.ward.code

    moved = reschedule_engagement(
        code, datetime(2026, 2, 12, 10, 0), "Clashes with CQC visit", date(2026, 1, 12)
    )
    again = reschedule_engagement(
        code, datetime(2026, 2, 12, 10, 0), "Clashes with CQC visit", date(2026, 1, 12)
    )
    assert moved["sequence"] == again["sequence"] == 1
    assert moved["starts_at"] == "2026-02-12T10:00:00+00:00"
    assert [h["action"] for h in moved["history"]] == ["reschedule"]

    cancelled = cancel_engagement(code, "Ward closed: norovirus", date(2026, 1, 20))
    assert cancelled["status"] == "cancelled" and cancelled["sequence"] == 2
    assert [h["action"] for h in cancelled["history"]] == ["reschedule", "cancel"]
    session.expire_all()
    keys = sorted(session.exec(select(Notification.idempotency_key)).all())
    assert keys == [
        f"engagement_cancelled:{code}:wave-1:v2",
        f"engagement_invite:{code}:wave-1:v0",
        f"engagement_invite:{code}:wave-1:v1",
    ]
    with pytest.raises(NotFoundError, match="No engagement event for ward NOPE"):
        cancel_engagement("NOPE", "x", date(2026, 1, 20))
