"""Simulated follow-up for the demo: wards work through what they triaged, through the same
doors people use.

Ward managers return their tracker with the fixes they have done (the inbox path a real
return takes); the QI coach scores improvement projects month by month and closes finished
ones; the directorate decides change requests after their review date. Every step is a
command handled by the bus, so the replay proves the commands and leaves an audit trail.

Fixes mostly close within weeks (some slip and go overdue), improvement projects climb the IHI
scale towards where they will end up, change requests are agreed or left open. Every decision
is a pure function of the item and the date, so replaying the same dates writes the same rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from datetime import date, timedelta

from sqlmodel import Session, select

from wardprog import commands as c
from wardprog.config import Settings, get_settings
from wardprog.models import (
    ChangeDecision,
    TriageCategory,
    TriageItem,
    TriageStatus,
    Ward,
    WardEnrolment,
)
from wardprog.services.handlers import run
from wardprog.services.tracker import HEADINGS, collect_returns, tracker_inbox
from wardprog.services.triage import score_history

COACH = "QI coach"
DIRECTORATE = "Directorate"
DEMO = c.Source(kind="demo")


def _roll(item: TriageItem, salt: str) -> float:
    """A stable number in [0, 1) per item: the simulated ward's 'choice'."""
    digest = hashlib.sha256(f"{item.ward_id}:{item.issue_key}:{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _act(
    session: Session, settings: Settings, kind: type[c.Command], actor: str, **fields: object
) -> None:
    run(session, settings, c.build(kind, actor={"name": actor}, source=DEMO, **fields))


def simulate_follow_up(session: Session, as_of: date) -> int:
    """Apply every follow-up step due by ``as_of``; returns how many changes were made."""
    settings = get_settings()
    rows = session.exec(
        select(TriageItem, WardEnrolment)
        .where(TriageItem.ward_id == WardEnrolment.ward_id)
        .where(TriageItem.status == TriageStatus.open)
    ).all()
    changes = 0
    fixes_done: dict[int, list[tuple[TriageItem, date]]] = defaultdict(list)
    for item, enrolment in rows:
        if enrolment.triage_at is None or item.id is None:
            continue
        raised = enrolment.triage_at.date()
        if item.category is TriageCategory.fix:
            done_on = _fix_done_on(item, raised)
            if done_on is not None and done_on <= as_of:
                fixes_done[item.ward_id].append((item, done_on))
        elif item.category is TriageCategory.improve:
            changes += _improve(session, settings, item, item.id, raised, as_of)
        else:
            changes += _change(session, settings, item, item.id, as_of)
    for ward_id, done in sorted(fixes_done.items()):
        changes += _return_tracker(session, settings, ward_id, done, as_of)
    return changes


def _fix_done_on(item: TriageItem, raised: date) -> date | None:
    if _roll(item, "slips") < 0.12:
        return None  # this one slips: it shows up as overdue and gets reminders
    return raised + timedelta(days=7 + int(_roll(item, "days") * 35))


def _return_tracker(
    session: Session,
    settings: Settings,
    ward_id: int,
    done: list[tuple[TriageItem, date]],
    as_of: date,
) -> int:
    """The ward manager marks the fixes done on the tracker and returns it to the inbox."""
    ward = session.get(Ward, ward_id)
    assert ward is not None
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADINGS)
    for item, done_on in sorted(done, key=lambda d: d[0].id or 0):
        writer.writerow(
            [item.id, item.issue, item.category.value, item.owner, item.due_date or "", "",
             "done", "Sorted on the ward by the team.", done_on.isoformat(), "", ""]
        )  # fmt: skip
    inbox = tracker_inbox(settings, ward.code)
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / f"tracker-{ward.code}-returned-{as_of.isoformat()}.csv").write_text(
        buf.getvalue(), encoding="utf-8"
    )
    outcomes = collect_returns(session, settings, ward, as_of)
    return sum(len(o.recorded) for o in outcomes)


def _improve(
    session: Session, settings: Settings, item: TriageItem, item_id: int, raised: date, as_of: date
) -> int:
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
            why = f"Monthly review: PDSA cycles and run chart reviewed (month {month})."
            _act(session, settings, c.ScoreProject, COACH, item_id=item_id, score=score, on=day,
                 why=why)  # fmt: skip
            changes += 1
        month += 1
    finish = raised + timedelta(days=30 * month)
    if finish <= as_of and _roll(item, "closes") < 0.8:
        _act(session, settings, c.CloseItem, COACH, item_id=item_id, on=finish,
             outcome=f"Project completed at IHI {final:.1f}.")  # fmt: skip
        changes += 1
    return changes


def _change(
    session: Session, settings: Settings, item: TriageItem, item_id: int, as_of: date
) -> int:
    if item.review_date is None or item.review_date > as_of or _roll(item, "agreed") < 0.5:
        return 0
    owner = item.owner or DIRECTORATE
    _act(session, settings, c.DecideChange, DIRECTORATE, item_id=item_id,
         decision=ChangeDecision.approve, owner=owner, note="Agreed at the directorate meeting.",
         on=item.review_date)  # fmt: skip
    _act(session, settings, c.CloseItem, owner, item_id=item_id, on=item.review_date,
         outcome="Agreed by the directorate and put in place.")  # fmt: skip
    return 1
