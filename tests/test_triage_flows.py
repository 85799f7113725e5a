"""Triage flows under a real (throw-away) Prefect API: inbox path, paused form, reminders."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.flow_runs import resume_flow_run
from sqlmodel import Session, func, select

from flows.triage import TriageRejected, capture_triage, overdue_reminders
from tests.utils.factories import make_context
from wardprog.config import Settings
from wardprog.demo.triage_responses import drop_filled_template
from wardprog.models import Notification
from wardprog.models.triage import TriageItem
from wardprog.services.triage import triage_inbox

AS_OF = date(2026, 2, 2)


def _items(session: Session) -> int:
    return session.exec(select(func.count()).select_from(TriageItem)).one()


def test_capture_from_inbox_then_bad_file_fails_the_run(
    session: Session, settings: Settings, prefect_harness: None
) -> None:
    ctx = make_context(session, settings, as_of=AS_OF)
    drop_filled_template(ctx)
    session.commit()

    result = capture_triage(ctx.ward.code, AS_OF)

    assert result["created"] == result["items"] >= 6
    assert _items(session) == result["items"]
    inbox = triage_inbox(settings, ctx.ward.code)
    assert [p.name for p in (inbox / "processed").iterdir()] == result["files"]

    (inbox / "second.csv").write_text("Issue,Category\nBroken hoist,replace\n")
    with pytest.raises(TriageRejected, match="row 2, column 'category'"):
        capture_triage(ctx.ward.code, AS_OF)
    assert (inbox / "rejected" / "second.csv.errors.txt").exists()
    session.expire_all()
    # The rejection itself was committed (the ward manager is told), the items were not touched.
    kinds = session.exec(select(Notification.kind)).all()
    assert sorted(kinds) == ["triage_rejected", "triage_summary"]


def _wait_for_pause(flow_name: str, ward_code: str, after_state: UUID | None) -> tuple[UUID, UUID]:
    deadline = time.monotonic() + 60
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                ),
                # The sync client sends nulls for these unless given.
                sort=FlowRunSort.ID_DESC,
                limit=50,
            )
            for run in runs:
                if (
                    run.parameters.get("ward_code") == ward_code
                    and run.state is not None
                    and run.state.id != after_state
                ):
                    return run.id, run.state.id
            time.sleep(0.2)
    raise AssertionError(f"{flow_name} for {ward_code} never paused")


def test_interactive_form_validates_then_imports(
    session: Session, settings: Settings, prefect_harness: None
) -> None:
    ctx = make_context(session, settings, as_of=AS_OF)
    session.commit()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = capture_triage(
                ctx.ward.code,
                AS_OF,
                interactive=True,
                pause_timeout_seconds=60,
                poll_interval_seconds=1,
            )
        except BaseException as exc:  # surfaced by the assertions below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    run_id, state_id = _wait_for_pause("capture-triage", ctx.ward.code, None)

    # First attempt has an unknown category and an empty issue: the form re-opens.
    resume_flow_run(
        run_id,
        run_input={
            "rows": [
                {"issue": "Bay 4 curtains torn", "category": "fixit"},
                {"issue": "  ", "category": "fix"},
            ]
        },
    )
    run_id2, _ = _wait_for_pause("capture-triage", ctx.ward.code, state_id)
    assert run_id2 == run_id
    assert _items(session) == 0

    resume_flow_run(
        run_id,
        run_input={
            "rows": [
                {"issue": "Bay 4 curtains torn", "category": "fix", "raised_by": "HCA"},
                {"issue": "Night-time falls in side rooms", "category": "improve"},
                {"issue": "Second hoist needed", "category": "change", "suggested_owner": "Matron"},
            ]
        },
    )
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert "error" not in outcome, outcome.get("error")
    assert outcome["result"]["created"] == 3
    session.expire_all()
    items = {i.issue: i for i in session.exec(select(TriageItem)).all()}
    assert items["Second hoist needed"].owner == "Matron"
    assert items["Bay 4 curtains torn"].source == f"Prefect form for ward {ctx.ward.code}"
    assert items["Bay 4 curtains torn"].source_row == 1
    with get_client(sync_client=True) as client:
        final = client.read_flow_run(run_id)
    assert final.state is not None and final.state.is_completed()


def test_overdue_reminders_flow_is_weekly(
    session: Session, settings: Settings, prefect_harness: None
) -> None:
    ctx = make_context(session, settings, as_of=AS_OF)
    inbox = triage_inbox(settings, ctx.ward.code)
    inbox.mkdir(parents=True)
    (inbox / "r.csv").write_text("Issue,Category\nBroken drawer,fix\nLeaky tap,fix\n")
    from wardprog.services.triage import run_triage_stage

    run_triage_stage(ctx)
    session.commit()
    # Both fixes are the ward manager's: one digest a week lists them both.
    assert overdue_reminders(date(2026, 3, 9)) == {"reminders": 1}
    assert overdue_reminders(date(2026, 3, 10)) == {"reminders": 0}
    assert overdue_reminders(date(2026, 3, 16)) == {"reminders": 1}
