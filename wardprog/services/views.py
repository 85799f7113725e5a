"""Read models for the ways in: triage items, engagement events and the audit trail as rows.

The CLI's tables and ``--json``, the ward trackers and the Prefect artifacts all show the same
rows from here, so they can never disagree about an item's latest score or status.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from wardprog.config import LONDON
from wardprog.models import (
    Action,
    EngagementEvent,
    Site,
    TriageCategory,
    TriageItem,
    TriageStatus,
    Venue,
    Ward,
    Wave,
)
from wardprog.rules.slots import to_utc
from wardprog.services.triage import latest_scores

ITEM_FIELDS = (
    "id",
    "ward_code",
    "wave",
    "category",
    "issue",
    "owner",
    "status",
    "due_date",
    "review_date",
    "latest_score",
    "decision",
)


def item_rows(
    session: Session,
    *,
    ward_code: str | None = None,
    wave: int | None = None,
    category: TriageCategory | None = None,
    open_only: bool = False,
) -> list[dict[str, Any]]:
    """Triage items with ward, wave and latest IHI score, ordered by ward then id."""
    query = (
        select(TriageItem, Ward, Wave)
        .where(TriageItem.ward_id == Ward.id, TriageItem.wave_id == Wave.id)
        .order_by(col(Ward.code), col(TriageItem.id))
    )
    if ward_code:
        query = query.where(Ward.code == ward_code.upper())
    if wave is not None:
        query = query.where(Wave.number == wave)
    if category is not None:
        query = query.where(TriageItem.category == category)
    if open_only:
        query = query.where(TriageItem.status == TriageStatus.open)
    rows = session.exec(query).all()
    scores = latest_scores(session, [i.id for i, _, _ in rows if i.id is not None])
    return [
        {
            "id": item.id,
            "ward_code": ward.code,
            "wave": wv.number,
            "category": item.category.value,
            "issue": item.issue,
            "owner": item.owner,
            "owner_email": item.owner_email,
            "escalation_level": item.escalation_level or None,
            "status": item.status.value,
            "due_date": item.due_date.isoformat() if item.due_date else None,
            "review_date": item.review_date.isoformat() if item.review_date else None,
            "latest_score": scores.get(item.id) if item.id is not None else None,
            "decision": item.decision.value if item.decision else None,
            "outcome": item.outcome,
        }
        for item, ward, wv in rows
    ]


def event_rows(session: Session) -> list[dict[str, Any]]:
    rows = session.exec(
        select(EngagementEvent, Ward, Wave, Site)
        .where(
            EngagementEvent.ward_id == Ward.id,
            EngagementEvent.wave_id == Wave.id,
            Ward.site_id == Site.id,
        )
        .order_by(col(EngagementEvent.starts_at))
    ).all()
    venues = {v.id: v.name for v in session.exec(select(Venue)).all()}
    out = []
    for ev, ward, wave, site in rows:
        starts = to_utc(ev.starts_at).astimezone(LONDON) if ev.starts_at else None
        out.append(
            {
                "event_id": ev.id,
                "ward_code": ward.code,
                "site_code": site.code,
                "wave": wave.number,
                "starts_at": starts.isoformat(timespec="minutes") if starts else None,
                "venue": venues.get(ev.venue_id, ""),
                "status": ev.status.value,
                "sequence": ev.sequence,
            }
        )
    return out


def action_rows(
    session: Session, *, ward_code: str | None = None, since: date | None = None
) -> list[dict[str, Any]]:
    query = select(Action).order_by(col(Action.acted_on), col(Action.id))
    if ward_code:
        query = query.where(Action.ward_code == ward_code.upper())
    if since is not None:
        query = query.where(col(Action.acted_on) >= since)
    return [
        {
            "id": a.id,
            "acted_on": a.acted_on.isoformat(),
            "command": a.command,
            "actor_name": a.actor_name,
            "actor_email": a.actor_email,
            "source": a.source_kind,
            "source_ref": a.source_ref,
            "ward_code": a.ward_code,
            "item_id": a.item_id,
            "subject": a.subject,
            "outcome": a.outcome,
            "fields": a.fields,
            "recorded_at": a.recorded_at.isoformat(timespec="seconds"),
        }
        for a in session.exec(query).all()
    ]


def qsir_project_rows(session: Session) -> list[dict[str, Any]]:
    """Each QSIR nominee's course project: the improve item it works on and that item's latest
    IHI score (one score, recorded once with ``ScoreProject``, counts for both)."""
    from wardprog.models import QsirNomination, StaffMember

    rows = session.exec(
        select(QsirNomination, StaffMember, Ward)
        .where(QsirNomination.staff_id == StaffMember.id, QsirNomination.ward_id == Ward.id)
        .order_by(col(Ward.code), col(StaffMember.staff_number))
    ).all()
    item_ids = [n.project_item_id for n, _, _ in rows if n.project_item_id is not None]
    scores = latest_scores(session, item_ids)
    items = {
        i.id: i
        for i in session.exec(select(TriageItem).where(col(TriageItem.id).in_(item_ids))).all()
    }
    return [
        {
            "ward_code": ward.code,
            "staff_number": staff.staff_number,
            "name": staff.name,
            "status": n.status.value,
            "project_item_id": n.project_item_id,
            "project": items[n.project_item_id].issue if n.project_item_id in items else None,
            "ihi_score": scores.get(n.project_item_id) if n.project_item_id else None,
            "presented": n.project_presented,
        }
        for n, staff, ward in rows
    ]
