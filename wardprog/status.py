"""Read models for `wardprog status` and reports: where every ward is, per wave and site."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from wardprog.models import (
    STAGE_ORDER,
    EngagementEvent,
    EventStatus,
    Notification,
    Site,
    Stage,
    TriageItem,
    Ward,
    WardEnrolment,
    Wave,
)
from wardprog.rules.slots import LONDON, to_utc


@dataclass(frozen=True)
class WardStatus:
    """Where one ward is; each date says what happened on it (see ``STATUS_DATES``)."""

    wave_number: int
    site_code: str
    ward_code: str
    ward_name: str
    stage: Stage
    diagnostic: date | None  # the diagnostic pack was ready
    engagement: date | None  # the engagement-event invite went out
    triage: date | None  # the ward's triage template came back
    qsir: date | None  # the ward's QSIR nominations were made
    event: date | None = None  # the day of the engagement event itself

    def dates(self) -> dict[str, date | None]:
        return {label: getattr(self, name) for name, label in STATUS_DATES.items()}


# The dates `wardprog status` shows, labelled with what happened on them: the engagement stage
# is done when the invite goes out, weeks before the event, so both are shown.
STATUS_DATES: dict[str, str] = {
    "diagnostic": "pack ready",
    "engagement": "invited",
    "event": "event",
    "triage": "triage in",
    "qsir": "nominated",
}


def ward_statuses(session: Session) -> list[WardStatus]:
    rows = session.exec(
        select(WardEnrolment, Ward, Site, Wave)
        .where(WardEnrolment.ward_id == Ward.id, Ward.site_id == Site.id)
        .where(WardEnrolment.wave_id == Wave.id)
        .order_by(col(Wave.number), col(Site.code), col(Ward.code))
    ).all()

    events: dict[tuple[int, int], datetime] = {
        (ev.ward_id, ev.wave_id): ev.starts_at
        for ev in session.exec(
            select(EngagementEvent).where(EngagementEvent.status != EventStatus.cancelled)
        ).all()
        if ev.starts_at is not None
    }

    def day(value):  # type: ignore[no-untyped-def]
        if value is None:
            return None
        return to_utc(value).astimezone(LONDON).date()

    return [
        WardStatus(
            wave.number,
            site.code,
            ward.code,
            ward.name,
            enr.stage,
            day(enr.diagnostic_at),
            day(enr.engagement_at),
            day(enr.triage_at),
            day(enr.qsir_at),
            day(events.get((enr.ward_id, enr.wave_id))),
        )
        for enr, ward, site, wave in rows
    ]


def unenrolled_wards(session: Session) -> int:
    enrolled = select(WardEnrolment.ward_id)
    return session.exec(
        select(func.count()).select_from(Ward).where(Ward.id.not_in(enrolled))  # type: ignore[union-attr]
    ).one()


def stage_counts(statuses: list[WardStatus]) -> dict[Stage, int]:
    counts = dict.fromkeys(STAGE_ORDER, 0)
    for s in statuses:
        counts[s.stage] += 1
    return counts


def triage_counts(session: Session) -> dict[str, dict[str, int]]:
    rows = session.exec(
        select(TriageItem.category, TriageItem.status, func.count()).group_by(
            TriageItem.category, TriageItem.status
        )
    ).all()
    out: dict[str, dict[str, int]] = {}
    for category, status, n in rows:
        out.setdefault(str(category), {})[str(status)] = n
    return out


def notification_counts(session: Session) -> dict[str, int]:
    rows = session.exec(
        select(Notification.status, func.count()).group_by(Notification.status)
    ).all()
    return {str(status): n for status, n in rows}


def table_counts(session: Session) -> dict[str, int]:
    """Rows per table: what the idempotency check compares between two runs."""
    from sqlmodel import SQLModel

    counts = {}
    for table in SQLModel.metadata.sorted_tables:
        counts[table.name] = session.exec(select(func.count()).select_from(table)).one()
    return counts
