"""Read models for `wardprog status` and reports: where every ward is, per wave and site."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlmodel import Session, col, select

from wardprog.models import (
    STAGE_ORDER,
    Notification,
    Site,
    Stage,
    TriageItem,
    Ward,
    WardEnrolment,
    Wave,
)


@dataclass(frozen=True)
class WardStatus:
    wave_number: int
    site_code: str
    ward_code: str
    ward_name: str
    stage: Stage
    diagnostic: date | None
    engagement: date | None
    triage: date | None
    qsir: date | None


def ward_statuses(session: Session) -> list[WardStatus]:
    rows = session.exec(
        select(WardEnrolment, Ward, Site, Wave)
        .where(WardEnrolment.ward_id == Ward.id, Ward.site_id == Site.id)
        .where(WardEnrolment.wave_id == Wave.id)
        .order_by(col(Wave.number), col(Site.code), col(Ward.code))
    ).all()

    def day(value):  # type: ignore[no-untyped-def]
        return value.date() if value is not None else None

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
