"""The daily round: the working day's follow-through jobs in one flow run, each job isolated."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from sqlmodel import Session, func, select

import flows.daily as daily
from flows.daily import DailyRoundError, daily_round
from tests.utils.factories import make_context
from wardprog.config import Settings
from wardprog.models import Notification
from wardprog.services.triage import run_triage_stage, triage_inbox

AS_OF = date(2026, 2, 2)


def _messages(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(Notification)).one()


def test_one_run_does_every_job_and_a_rerun_sends_nothing_new(
    session: Session, settings: Settings, prefect_harness: None
) -> None:
    ctx = make_context(session, settings, as_of=AS_OF)
    inbox = triage_inbox(settings, ctx.ward.code)
    inbox.mkdir(parents=True)
    (inbox / "r.csv").write_text("Issue,Category\nBroken drawer,fix\nLeaky tap,fix\n")
    run_triage_stage(ctx)
    session.commit()
    before = _messages(session)

    day = date(2026, 3, 9)  # both fixes overdue: one weekly digest to the ward manager
    runs_before = _flow_runs()
    result = daily_round(as_of=day)
    assert list(result) == [name for name, _job in daily.JOBS]
    assert result["overdue reminders"] == {"reminders": 1}
    assert result["re-checks"]["rechecked"] == 0
    after = _messages(session)
    assert after == before + 1
    # The same day again: every job is idempotent, so nothing new goes out.
    daily_round(as_of=day)
    assert _messages(session) == after

    # One flow run each time, not one per job (the harness is shared by the whole session).
    assert _flow_runs() == runs_before + 2


def _flow_runs() -> int:
    with get_client(sync_client=True) as client:
        return client.count_flow_runs()


def test_a_failed_job_fails_the_round_after_the_others_ran(
    session: Session,
    settings: Settings,
    prefect_harness: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []

    @flow(name="broken-job")
    def broken(as_of: date) -> Any:
        ran.append("broken")
        raise RuntimeError("the owners register is unreadable")

    @flow(name="after-job")
    def after(as_of: date) -> Any:
        ran.append("after")
        return {"done": 1}

    monkeypatch.setattr(daily, "JOBS", (("broken", broken), ("after", after)))
    with pytest.raises(DailyRoundError, match=r"broken \(RuntimeError: the owners register"):
        daily_round(as_of=AS_OF)
    assert ran == ["broken", "after"]
