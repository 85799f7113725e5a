"""The improvement team's digest: where every ward is, what is overdue, what failed to send.

One message per ``as_of`` date, tagged ``improvement-team`` (never a ward tag: it names every
ward). The context is documented in ``templates/improvement_team_digest.txt``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from wardprog import queries
from wardprog.config import Settings
from wardprog.models import (
    STAGE_ORDER,
    Notification,
    NotificationStatus,
    Site,
    Stage,
    Ward,
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

    # The same figures `wardprog status --as-of` and the dashboard show for the day.
    statuses = queries.ward_statuses(session, as_of, settings.timezone)
    counts = queries.stage_counts(statuses)
    stages = [{"stage": s.value, "wards": counts[s]} for s in STAGE_ORDER]
    status_counts = queries.notification_counts(session, as_of, settings.timezone)
    sent_in_period = session.exec(
        select(func.count())
        .select_from(Notification)
        .where(Notification.status == NotificationStatus.sent)
        .where(Notification.sent_at >= period_start)  # type: ignore[operator]
        .where(Notification.sent_at < period_end)  # type: ignore[operator]
    ).one()
    notifications = {
        "pending": status_counts.get(NotificationStatus.pending.value, 0),
        "sent": status_counts.get(NotificationStatus.sent.value, 0),
        "dead": status_counts.get(NotificationStatus.dead.value, 0),
        "sent_in_period": int(sent_in_period),
    }
    dead = session.exec(
        select(Notification)
        .where(Notification.status == NotificationStatus.dead)
        .where(col(Notification.created_at) < period_end)
        .order_by(col(Notification.id))
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
    quarters = {w["wave"]: w["quarter_end"] for w in queries.wave_rows(session, as_of)}
    names = {w.code: (w.name, site) for w, site in session.exec(
        select(Ward, Site.name).where(Ward.site_id == Site.id))}  # fmt: skip
    overdue_wards = [
        {
            "code": st.ward_code,
            "name": names[st.ward_code][0],
            "site": names[st.ward_code][1],
            "wave_number": st.wave_number,
            "stage": st.stage.value,
            "quarter_end": quarters[st.wave_number],
        }
        for st in statuses
        if st.stage is not Stage.complete
        and st.wave_number in quarters
        and quarters[st.wave_number] < as_of
    ]

    # Fix items past their due date, change items past their review date, still open.
    overdue_actions = sorted(
        (
            {
                "ward_code": o["ward"],
                "issue": o["issue"],
                "category": o["category"],
                "owner": o["owner"],
                "due": o["due"],
                "days_overdue": o["days_overdue"],
            }
            for o in queries.overdue_items(session, as_of, settings.timezone)
        ),
        key=lambda o: o["ward_code"],
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
