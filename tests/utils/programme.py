"""A ward part-way through the programme, for action tests: an engagement event, triage items
of every category and two QSIR nominees booked on a cohort."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlmodel import Session, col, select

from tests.utils.factories import make_context
from wardprog.config import Settings
from wardprog.demo.staff import drop_nomination_return, write_staff_extract
from wardprog.models import (
    EngagementEvent,
    QsirCohort,
    QsirNomination,
    StaffMember,
    TriageCategory,
    TriageItem,
)
from wardprog.models.base import require_id
from wardprog.services import qsir
from wardprog.services.context import StageContext
from wardprog.services.engagement import run_engagement_stage
from wardprog.services.staff_register import import_staff
from wardprog.services.themes import refresh_themes
from wardprog.services.triage import run_triage_stage, triage_inbox

AS_OF = date(2026, 2, 16)
TRIAGE_CSV = (
    "Issue,Category,Suggested owner\n"
    "Broken drawer on the drugs trolley,fix,\n"
    "Falls at night in side rooms,improve,\n"
    "Second hoist for bay 3,change,Matron\n"
)


@dataclass
class Ward:
    ctx: StageContext
    fix: int
    improve: int
    change: int
    event_id: int
    cohort: str
    cohort_days: list[date]
    nominees: list[str]

    @property
    def code(self) -> str:
        return self.ctx.ward.code


def ward_in_programme(session: Session, settings: Settings, tmp_path: Path) -> Ward:
    ctx = make_context(session, settings, as_of=AS_OF)
    assert "engagement event" in run_engagement_stage(ctx).summary  # invited
    inbox = triage_inbox(settings, ctx.ward.code)
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "triage.csv").write_text(TRIAGE_CSV)
    assert run_triage_stage(ctx).done
    refresh_themes(session, settings, AS_OF)  # the wave's step after its wards' triage
    import_staff(
        session, write_staff_extract([(ctx.ward.code, ctx.ward.manager_name)], tmp_path / "s.csv")
    )
    drop_nomination_return(ctx)
    assert qsir.run_qsir_stage(ctx).done
    session.commit()
    items = {i.category: require_id(i) for i in session.exec(select(TriageItem)).all()}
    event = session.exec(select(EngagementEvent)).one()
    nominations = session.exec(select(QsirNomination).order_by(col(QsirNomination.id))).all()
    cohort = session.get(QsirCohort, nominations[0].cohort_id)
    assert cohort is not None
    staff = {s.id: s.staff_number for s in session.exec(select(StaffMember)).all()}
    return Ward(
        ctx=ctx,
        fix=items[TriageCategory.fix],
        improve=items[TriageCategory.improve],
        change=items[TriageCategory.change],
        event_id=require_id(event),
        cohort=cohort.code,
        cohort_days=qsir.cohort_dates(cohort),
        nominees=[staff[n.staff_id] for n in nominations],
    )
