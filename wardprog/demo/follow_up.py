"""Simulated follow-up for the demo: wards work through what they triaged.

Fixes mostly close within weeks (some slip and go overdue), improvement projects climb the IHI
scale month by month towards where they will end up, change requests are decided after their
review date. Every decision is a pure function of the item and the date, so replaying the same
dates writes the same rows: re-running the demo stays idempotent.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from sqlmodel import Session, select

from wardprog.models import TriageCategory, TriageItem, TriageStatus, WardEnrolment
from wardprog.services.triage import close_item, record_ihi_score, score_history

COACH = "QI coach"


def _roll(item: TriageItem, salt: str) -> float:
    """A stable number in [0, 1) per item: the simulated ward's 'choice'."""
    digest = hashlib.sha256(f"{item.ward_id}:{item.issue_key}:{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def simulate_follow_up(session: Session, as_of: date) -> int:
    """Apply every follow-up step due by ``as_of``; returns how many changes were made."""
    rows = session.exec(
        select(TriageItem, WardEnrolment)
        .where(TriageItem.ward_id == WardEnrolment.ward_id)
        .where(TriageItem.status == TriageStatus.open)
    ).all()
    changes = 0
    for item, enrolment in rows:
        if enrolment.triage_at is None or item.id is None:
            continue
        raised = enrolment.triage_at.date()
        if item.category is TriageCategory.fix:
            changes += _fix(session, item, item.id, raised, as_of)
        elif item.category is TriageCategory.improve:
            changes += _improve(session, item, item.id, raised, as_of)
        else:
            changes += _change(session, item, item.id, as_of)
    return changes


def _fix(session: Session, item: TriageItem, item_id: int, raised: date, as_of: date) -> int:
    if _roll(item, "slips") < 0.12:
        return 0  # this one slips: it shows up as overdue and gets reminders
    done_on = raised + timedelta(days=7 + int(_roll(item, "days") * 35))
    if done_on > as_of:
        return 0
    close_item(
        session, item_id, "Sorted on the ward by the team.", item.owner or "Ward team", done_on
    )
    return 1


def _improve(session: Session, item: TriageItem, item_id: int, raised: date, as_of: date) -> int:
    # Where this project will end up on the IHI scale: most reach modest improvement (3.0+).
    final = 1.0 + 0.5 * int(_roll(item, "final") * 8)  # 1.0 .. 4.5
    recorded = {s.scored_on for s in score_history(session, item_id)}
    changes = 0
    score = 0.5
    month = 1
    while score < final:
        day = raised + timedelta(days=30 * month)
        if day > as_of:
            return changes
        score = min(final, score + (1.0 if _roll(item, f"m{month}") > 0.6 else 0.5))
        if day not in recorded:
            record_ihi_score(
                session,
                item_id,
                score,
                COACH,
                day,
                f"Monthly review: PDSA cycles and run chart reviewed (month {month}).",
            )
            changes += 1
        month += 1
    finish = raised + timedelta(days=30 * month)
    if finish <= as_of and _roll(item, "closes") < 0.8:
        close_item(session, item_id, f"Project completed at IHI {final:.1f}.", COACH, finish)
        changes += 1
    return changes


def _change(session: Session, item: TriageItem, item_id: int, as_of: date) -> int:
    if item.review_date is None or item.review_date > as_of or _roll(item, "agreed") < 0.5:
        return 0
    close_item(
        session,
        item_id,
        "Agreed by the directorate and put in place.",
        item.owner or "Directorate",
        item.review_date,
    )
    return 1
