"""The triage stage: waits for the ward's returned template, then records what staff raised."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from wardprog.models.triage import (
    TriageCategory,
    TriageItem,
)
from wardprog.services.context import StageContext, StageOutcome, require_id
from wardprog.services.triage.capture import capture_from_inbox, triage_inbox


def ward_items(session: Session, ward_id: int, wave_id: int) -> list[TriageItem]:
    return list(
        session.exec(
            select(TriageItem)
            .where(TriageItem.ward_id == ward_id, TriageItem.wave_id == wave_id)
            .order_by(col(TriageItem.id))
        ).all()
    )


def run_triage_stage(ctx: StageContext) -> StageOutcome:
    """Done once the ward's triage has been captured; waits (done=False) until a file arrives.

    A rejected file does not raise: the ward manager has been told what to fix, and one ward's
    spreadsheet must not stop the rest of the programme's run.
    """
    # A wave's wards are triaged concurrently: their items join trust-wide themes afterwards,
    # in one step in ward order (``enrolment.after_stage``), so theme keys do not depend on
    # which ward's transaction took the numbering lock first.
    results, errors = capture_from_inbox(ctx, place_themes=False)
    items = ward_items(ctx.session, require_id(ctx.ward), require_id(ctx.wave))
    created = sum(len(r.created) for r in results)
    details: dict[str, Any] = {
        "items": len(items),
        "created": created,
        "files": [r.source for r in results],
        "rejected": [str(e) for e in errors],
    }
    if not items:
        if errors:
            return StageOutcome(
                done=False,
                summary=f"triage file rejected ({len(errors)}); waiting for a corrected file",
                details=details,
            )
        inbox = triage_inbox(ctx.settings, ctx.ward.code)
        return StageOutcome(
            done=False,
            summary=f"waiting for the triage template in {inbox}",
            details=details,
        )
    counts = {c.value: sum(1 for i in items if i.category is c) for c in TriageCategory}
    details["by_category"] = counts
    return StageOutcome(
        done=True,
        summary=f"{len(items)} triage items ({counts['fix']} fix, {counts['improve']} improve, "
        f"{counts['change']} change)",
        details=details,
    )
