"""The improvement team's digest: where every ward is, what is overdue, what failed to send.

One message per ``as_of`` date, tagged ``improvement-team`` (never a ward tag: it names every
ward). The context is documented in ``templates/improvement_team_digest.txt``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, select

from wardprog.config import Settings
from wardprog.models import (
    STAGE_ORDER,
    Notification,
    NotificationStatus,
    Site,
    Stage,
    TriageCategory,
    TriageItem,
    TriageStatus,
    Ward,
    WardEnrolment,
    Wave,
)
from wardprog.notify.outbox import enqueue
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG

DIGEST_KIND = "improvement_team_digest"
DIGEST_VERSION = 1
# Lists in a mail stay readable; the dashboard has the full picture.
MAX_LISTED = 25


def digest_key(as_of: date) -> str:
    return f"{DIGEST_KIND}:{as_of.isoformat()}:v{DIGEST_VERSION}"


def build_digest_context(
    session: Session, settings: Settings, as_of: date, period_days: int = 7
) -> dict[str, Any]:
    """Counts and overdue lists as of the end of ``as_of`` (Europe/London)."""
    tz = ZoneInfo(settings.timezone)
    period_end = datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=tz)
    period_start = period_end - timedelta(days=period_days)

    stage_counts = dict(
        session.exec(
            select(WardEnrolment.stage, func.count()).group_by(WardEnrolment.stage)  # type: ignore[call-overload]
        ).all()
    )
    stages = [{"stage": s.value, "wards": int(stage_counts.get(s, 0))} for s in STAGE_ORDER]

    status_counts = dict(
        session.exec(
            select(Notification.status, func.count()).group_by(Notification.status)  # type: ignore[call-overload]
        ).all()
    )
    sent_in_period = session.exec(
        select(func.count())
        .select_from(Notification)
        .where(Notification.status == NotificationStatus.sent)
        .where(Notification.sent_at >= period_start)  # type: ignore[operator]
        .where(Notification.sent_at < period_end)  # type: ignore[operator]
    ).one()
    notifications = {
        "pending": int(status_counts.get(NotificationStatus.pending, 0)),
        "sent": int(status_counts.get(NotificationStatus.sent, 0)),
        "dead": int(status_counts.get(NotificationStatus.dead, 0)),
        "sent_in_period": int(sent_in_period),
    }
    dead = session.exec(
        select(Notification)
        .where(Notification.status == NotificationStatus.dead)
        .order_by(Notification.id)  # type: ignore[arg-type]
        .limit(MAX_LISTED)
    ).all()
    dead_notifications = [
        {
            "key": n.idempotency_key,
            "kind": n.kind,
            "ward_code": n.ward_code or "",
            "error": n.last_error[:200],
        }
        for n in dead
    ]

    # A ward is overdue when its wave's quarter has ended and it has not finished all stages.
    late = session.exec(
        select(Ward, Site, Wave, WardEnrolment)
        .where(WardEnrolment.ward_id == Ward.id, Ward.site_id == Site.id)
        .where(WardEnrolment.wave_id == Wave.id)
        .where(Wave.quarter_end < as_of)
        .where(WardEnrolment.stage != Stage.complete)
        .order_by(Wave.number, Ward.code)  # type: ignore[arg-type]
    ).all()
    overdue_wards = [
        {
            "code": ward.code,
            "name": ward.name,
            "site": site.name,
            "wave_number": wave.number,
            "stage": enrolment.stage.value
            if isinstance(enrolment.stage, Stage)
            else str(enrolment.stage),
            "quarter_end": wave.quarter_end,
        }
        for ward, site, wave, enrolment in late
    ]

    # Fix items past their due date, change items past their review date, still open.
    items = session.exec(
        select(TriageItem, Ward)
        .where(TriageItem.ward_id == Ward.id)
        .where(TriageItem.status == TriageStatus.open)
        .order_by(Ward.code, TriageItem.id)  # type: ignore[arg-type]
    ).all()
    overdue_actions = []
    for item, ward in items:
        due = item.review_date if item.category == TriageCategory.change else item.due_date
        if due is not None and due < as_of:
            overdue_actions.append(
                {
                    "ward_code": ward.code,
                    "issue": item.issue,
                    "category": str(item.category),
                    "owner": item.owner,
                    "due": due,
                    "days_overdue": (as_of - due).days,
                }
            )

    return {
        "as_of": as_of,
        "period_days": period_days,
        "total_wards": sum(s["wards"] for s in stages),
        "stages": stages,
        "notifications": notifications,
        "dead_notifications": dead_notifications,
        "overdue_wards": overdue_wards[:MAX_LISTED],
        "overdue_wards_total": len(overdue_wards),
        "overdue_actions": overdue_actions[:MAX_LISTED],
        "overdue_actions_total": len(overdue_actions),
        "scorecard": _scorecard(session, settings, as_of),
    }


def _scorecard(session: Session, settings: Settings, as_of: date) -> list[dict[str, Any]]:
    from wardprog.services.scorecard import scorecard

    return [k.as_json() | {"shown": k.shown} for k in scorecard(session, settings, as_of)]


def enqueue_improvement_team_digest(
    session: Session, settings: Settings, as_of: date, recipients: list[str] | None = None
) -> Notification:
    """Enqueue (once per ``as_of``) the digest in the caller's transaction."""
    existing = session.exec(
        select(Notification).where(Notification.idempotency_key == digest_key(as_of))
    ).first()
    if existing is not None:
        return existing
    return enqueue(
        session,
        key=digest_key(as_of),
        kind=DIGEST_KIND,
        tags=[IMPROVEMENT_TEAM_TAG],
        context=build_digest_context(session, settings, as_of),
        recipients=recipients or [],
    )
