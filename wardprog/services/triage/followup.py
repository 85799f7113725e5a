"""Triage follow-up: IHI scores, closing and reopening items, change decisions, reminders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session, col, select

from wardprog.errors import WardprogError
from wardprog.models import Notification, OwnerChange, Site, Ward
from wardprog.models.triage import (
    ChangeDecision,
    ImprovementScore,
    TriageCategory,
    TriageItem,
    TriageStatus,
)
from wardprog.notify.outbox import enqueue, enqueued
from wardprog.rules.triage import (
    iso_week,
    overdue_since,
)
from wardprog.services.context import require_id, triage_item
from wardprog.services.inbox import (
    IMPROVEMENT_TEAM_TAG,
)
from wardprog.services.programme import on_day
from wardprog.services.triage.capture import _item_view, _ward_parts


class TriageError(WardprogError):
    """A triage action is not allowed (wrong category, closed item, no outcome or reason)."""


def score_history(session: Session, item_id: int) -> list[ImprovementScore]:
    return list(
        session.exec(
            select(ImprovementScore)
            .where(ImprovementScore.triage_item_id == item_id)
            .order_by(col(ImprovementScore.scored_on), col(ImprovementScore.id))
        ).all()
    )


def close_item(
    session: Session, item_id: int, outcome: str, closed_by: str, closed_on: date
) -> TriageItem:
    """Close an item and tell the ward what was done ("you said, we did"). Idempotent."""
    item = triage_item(session, item_id)
    if item.status is TriageStatus.closed:
        return item
    if not outcome.strip():
        raise TriageError("Closing an item needs an outcome: what was done about it")
    item.status = TriageStatus.closed
    item.outcome = outcome.strip()
    item.closed_by = closed_by.strip()[:200]
    item.closed_at = on_day(closed_on, 17)
    session.add(item)
    session.flush()
    ward, wave, site = _ward_parts(session, item)
    # A reopened item closed again is news again; a re-run of the same close is not.
    again = f":r{item.reopened_count}" if item.reopened_count else ""
    enqueue(
        session,
        key=f"you_said_we_did:{ward.code}:wave-{wave.number}:item-{item.id}{again}",
        kind="you_said_we_did",
        tags=[ward.code, site.code, IMPROVEMENT_TEAM_TAG],
        context={
            "ward_name": ward.name,
            "manager_name": ward.manager_name or "Ward manager",
            "item": _item_view(item),
            "closed_by": item.closed_by,
            "closed_on": closed_on,
        },
        ward_code=ward.code,
        recipients=[ward.manager_email] if ward.manager_email else [],
    )
    return item


def reopen_item(session: Session, item_id: int, reason: str, reopened_by: str) -> TriageItem:
    """A closed item was not really sorted: open it again (the action table keeps the old close).

    Reopening an open item is refused, so a re-run cannot count a second reopening.
    """
    item = triage_item(session, item_id)
    if item.status is TriageStatus.open:
        raise TriageError(f"Triage item {item_id} is already open; only closed items reopen")
    if not reason.strip():
        raise TriageError("Reopening an item needs a reason: what is still not right")
    item.status = TriageStatus.open
    item.notes = "\n".join(
        n for n in (item.notes, f"Reopened by {reopened_by.strip()}: {reason.strip()}") if n
    )
    item.outcome = ""
    item.closed_by = ""
    item.closed_at = None
    item.reopened_count += 1
    session.add(item)
    session.flush()
    return item


def decide_change(
    session: Session,
    item_id: int,
    decision: ChangeDecision,
    owner: str,
    note: str,
    decided_by: str,
    decided_on: date,
    review_date: date | None = None,
) -> TriageItem:
    """Record the decision on a change request.

    approve: the owner puts it in place (closed later with what was done); decline: closed now,
    and the ward told why; defer: reviewed again on ``review_date`` (required, in the future).
    """
    item = triage_item(session, item_id)
    if item.category is not TriageCategory.change:
        raise TriageError(
            f"Triage item {item_id} is a {item.category.value}; only change requests are decided"
        )
    if item.status is TriageStatus.closed:
        raise TriageError(f"Triage item {item_id} is closed; reopen it before deciding again")
    if not owner.strip() or not note.strip():
        raise TriageError("A decision needs an owner and a note explaining it")
    if decision is ChangeDecision.defer:
        if review_date is None:
            raise TriageError("Deferring a change request needs a new review date (--review)")
        if review_date <= decided_on:
            raise TriageError(
                f"review date {review_date.isoformat()} must be after the decision "
                f"({decided_on.isoformat()})"
            )
    item.decision = decision
    item.decision_note = note.strip()
    item.decided_by = decided_by.strip()[:200]
    item.decided_on = decided_on
    item.owner = owner.strip()[:200]
    from wardprog.services.owners import owner_by_name, record_owner

    named = owner_by_name(session, item.owner)
    # Reminders reach a named owner from the register; anyone else is chased by the team.
    item.owner_email = named.email if named is not None else ""
    if review_date is not None:
        item.review_date = review_date
    session.add(item)
    record_owner(session, item, decided_on, "decided")
    session.flush()
    if decision is ChangeDecision.decline:
        close_item(session, item_id, f"Not agreed: {note.strip()}", decided_by, decided_on)
    return item


def latest_scores(session: Session, item_ids: Sequence[int]) -> dict[int, float]:
    """Each improvement project's most recent IHI score."""
    latest: dict[int, float] = {}
    rows = session.exec(
        select(ImprovementScore)
        .where(col(ImprovementScore.triage_item_id).in_(list(item_ids)))
        .order_by(col(ImprovementScore.scored_on), col(ImprovementScore.id))
    ).all()
    for row in rows:
        if row.triage_item_id is not None:  # the query only finds these items' scores
            latest[row.triage_item_id] = row.score
    return latest


def overdue_items(session: Session, as_of: date) -> list[TriageItem]:
    candidates = session.exec(
        select(TriageItem).where(
            TriageItem.status == TriageStatus.open,
            (col(TriageItem.due_date) < as_of) | (col(TriageItem.review_date) < as_of),
        )
    ).all()
    return sorted(candidates, key=lambda i: (i.ward_id, i.id or 0))


def _reminder_recipient(item: TriageItem, ward: Ward, held: OwnerChange | None) -> str:
    """Who is chased for an overdue item: whoever owned it on the day (``held``, from the
    item's owner history: a re-run of a past date chases the owner of that day, not today's);
    the ward manager for the ward's own fixes and projects; "" (the improvement team) for a
    change request with no named owner.
    """
    email = held.owner_email if held is not None else item.owner_email
    if email:
        return email
    if item.category is not TriageCategory.change:
        return ward.manager_email
    return ""


def send_overdue_reminders(session: Session, as_of: date) -> list[Notification]:
    """The daily follow-up of overdue items: climb the ladder, then chase each owner once a week.

    Overdue change requests first move up the escalation ladder (``services.owners``), so the
    reminder reaches the new owner. Then every owner gets ONE digest per ISO week listing all
    their overdue items (keyed by owner and week: a daily run, a retry or a re-run never sends
    the same digest twice). Returns only the digests enqueued by this call.
    """
    from wardprog.config import get_settings
    from wardprog.services.owners import escalate_overdue

    escalate_overdue(session, get_settings(), as_of)
    from wardprog.services.owners import owners_on

    week = iso_week(as_of)
    groups: dict[str, list[tuple[TriageItem, Ward, Site, date]]] = {}
    overdue = overdue_items(session, as_of)
    held = owners_on(session, [require_id(i) for i in overdue], as_of)
    for item in overdue:
        since = overdue_since(item.due_date, item.review_date, as_of)
        assert since is not None
        ward, _wave, site = _ward_parts(session, item)
        recipient = _reminder_recipient(item, ward, held.get(require_id(item)))
        groups.setdefault(recipient, []).append((item, ward, site, since))
    sent: list[Notification] = []
    for recipient, rows in groups.items():
        key = f"overdue_reminder:{recipient or IMPROVEMENT_TEAM_TAG}:{week}"[:200]
        if enqueued(session, key):
            continue
        wards = {ward.code: (ward, site) for _i, ward, site, _s in rows}
        one_ward = next(iter(wards.values())) if len(wards) == 1 else None
        first_item, first_ward, _site, _since = rows[0]
        if recipient and recipient == first_ward.manager_email and one_ward is not None:
            name = first_ward.manager_name or "Ward manager"
        elif recipient:
            from wardprog.models import EscalationOwner

            named = session.exec(
                select(EscalationOwner.name).where(EscalationOwner.email == recipient)
            ).first()
            name = named or first_item.owner or "colleague"
        else:
            name = "Improvement team"
        tags: set[str] = set()
        if one_ward is not None and recipient == one_ward[0].manager_email:
            tags |= {one_ward[0].code, one_ward[1].code}
        if not recipient or any(i.category is TriageCategory.change for i, *_ in rows):
            tags.add(IMPROVEMENT_TEAM_TAG)  # escalated items are chased centrally too
        items = [
            {
                **_item_view(item),
                "ward_name": ward.name,
                "ward_code": ward.code,
                "overdue_since": since,
                "days_overdue": (as_of - since).days,
                "is_review": item.category is TriageCategory.change,
                "level": item.escalation_level,
            }
            for item, ward, _site, since in sorted(rows, key=lambda r: r[3])
        ]
        sent.append(
            enqueue(
                session,
                key=key,
                kind="overdue_reminder",
                tags=tags,
                context={
                    "recipient_name": name,
                    "items": items,
                    "count": len(items),
                    "oldest_days": max(i["days_overdue"] for i in items),
                    "ward_names": sorted(w.name for w, _s in wards.values()),
                },
                ward_code=one_ward[0].code if one_ward is not None else None,
                recipients=[recipient] if recipient else [],
            )
        )
    return sent
