"""Chasing returns: a triage template or nomination form not back after the event is chased.

Counted from the day the ward's engagement event was held (``EngagementEvent.held_on``): after
``chase_manager_days`` (7) the ward manager is reminded, after ``chase_matron_days`` (14) the
ward's matron (from the owners register), each once, with the form attached again so nobody
has to dig out the first email. Which return is awaited follows the ward's stage: engaged but
not triaged -> the triage template; triaged but no nominations recorded -> the QSIR
nomination form.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, select

from wardprog.config import Settings
from wardprog.models import (
    EngagementEvent,
    EventStatus,
    QsirNomination,
    Site,
    Stage,
    Ward,
    WardEnrolment,
    Wave,
)
from wardprog.notify.outbox import Attachment, enqueue, enqueued
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG
from wardprog.services.owners import owners_for
from wardprog.services.qsir import nomination_inbox
from wardprog.services.triage import triage_inbox
from wardprog.services.triage.template import (
    CSV_CONTENT_TYPE,
    XLSX_CONTENT_TYPE,
    build_csv,
    build_xlsx,
    template_filename,
)


@dataclass(frozen=True)
class Chase:
    ward_code: str
    what: str  # "triage" | "nominations"
    who: str  # "manager" | "matron"
    days: int


def _nomination_form() -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerow(["staff_number", "course", "approved_by"])
    return buf.getvalue().encode("utf-8")


def _attachments(ward: Ward, wave: Wave, what: str) -> list[Attachment]:
    if what == "triage":
        return [
            Attachment(
                template_filename(ward.code, wave.number, ".xlsx"),
                build_xlsx(ward.code, ward.name, wave.number),
                XLSX_CONTENT_TYPE,
            ),
            Attachment(
                template_filename(ward.code, wave.number, ".csv"), build_csv(), CSV_CONTENT_TYPE
            ),
        ]
    return [
        Attachment(f"qsir-nominations-{ward.code}-wave{wave.number}.csv", _nomination_form(),
                   CSV_CONTENT_TYPE)
    ]  # fmt: skip


def _awaited(session: Session, enrolment: WardEnrolment) -> str | None:
    if enrolment.stage is Stage.engagement:
        return "triage"
    if enrolment.stage is Stage.triage:
        recorded = session.exec(
            select(QsirNomination.id).where(QsirNomination.ward_id == enrolment.ward_id)
        ).first()
        return None if recorded is not None else "nominations"
    return None


def chase_returns(session: Session, settings: Settings, as_of: date) -> list[Chase]:
    """Enqueue every chase now due (each exactly once); returns the ones enqueued by this call."""
    rows = session.exec(
        select(WardEnrolment, EngagementEvent, Ward, Wave)
        .where(EngagementEvent.ward_id == WardEnrolment.ward_id)
        .where(EngagementEvent.wave_id == WardEnrolment.wave_id)
        .where(Ward.id == WardEnrolment.ward_id, Wave.id == WardEnrolment.wave_id)
        .where(EngagementEvent.status == EventStatus.held)
        .order_by(Ward.code)
    ).all()
    done: list[Chase] = []
    for enrolment, event, ward, wave in rows:
        what = _awaited(session, enrolment)
        if what is None or event.held_on is None:
            continue
        days = (as_of - event.held_on).days
        site = session.get(Site, ward.site_id)
        steps: list[tuple[str, str, str]] = []
        if days >= settings.chase_manager_days and ward.manager_email:
            steps.append(("manager", ward.manager_name or "Ward manager", ward.manager_email))
        matron = owners_for(session, ward).get("matron")
        if days >= settings.chase_matron_days and matron is not None:
            steps.append(("matron", matron.name, matron.email))
        for who, name, email in steps:
            key = f"return_chase:{what}:{ward.code}:wave-{wave.number}:{who}"
            if enqueued(session, key):
                continue  # chased already: once each
            enqueue(
                session,
                key=key,
                kind="return_chase",
                tags=[ward.code, *([site.code] if site else []), IMPROVEMENT_TEAM_TAG]
                if who == "manager"
                else [IMPROVEMENT_TEAM_TAG],
                context={
                    "recipient_name": name,
                    "to_matron": who == "matron",
                    "manager_name": ward.manager_name or "the ward manager",
                    "ward_name": ward.name,
                    "wave_number": wave.number,
                    "what": "triage template" if what == "triage" else "QSIR nomination form",
                    "held_on": event.held_on,
                    "days": days,
                    "inbox": str(
                        triage_inbox(settings, ward.code)
                        if what == "triage"
                        else nomination_inbox(settings, ward.code)
                    ),
                },
                ward_code=ward.code if who == "manager" else None,
                recipients=[email],
                attachments=_attachments(ward, wave, what),
            )
            done.append(Chase(ward.code, what, who, days))
    session.flush()
    return done
