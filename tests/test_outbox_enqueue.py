"""enqueue: one row per idempotency key, in the caller's transaction."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlmodel import Session, select

from wardprog.models import Notification
from wardprog.notify.outbox import Attachment, enqueue


def context() -> dict[str, Any]:
    return {
        "wave_number": 1,
        "quarter_start": date(2026, 1, 5),
        "quarter_end": date(2026, 3, 31),
        "as_of": date(2026, 1, 5),
        "wards": [{"code": "W-A01", "name": "Ash", "site": "North", "manager_name": ""}],
    }


def test_same_key_returns_the_existing_row_and_rollback_removes_it(session: Session) -> None:
    first = enqueue(
        session,
        key="wave_launch:W-A01:wave-1",
        kind="wave_launch",
        tags=["W-A01", "W-A01"],
        context=context(),
        ward_code="W-A01",
        recipients=["", " a@trust.example "],
        attachments=[Attachment("x.ics", b"data", "text/calendar")],
    )
    second = enqueue(
        session, key="wave_launch:W-A01:wave-1", kind="wave_launch", tags=[], context=context()
    )
    assert second.id == first.id
    assert first.tags == ["W-A01"] and first.recipients == ["a@trust.example"]
    assert first.attachments[0]["filename"] == "x.ics"
    session.rollback()  # the outbox row lives or dies with the caller's change
    assert session.exec(select(Notification)).all() == []


def test_key_must_fit_the_column(session: Session) -> None:
    with pytest.raises(ValueError, match="1-200 characters"):
        enqueue(session, key="k" * 201, kind="wave_launch", tags=[], context=context())
