"""Chasing returns: a triage template or nomination form not back 7 days after the event is
held goes to the ward manager again (attachments included), at 14 days to the matron, once each;
nothing is chased before the event is held or once the return is in."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from flows.chasing import chase_returns as chase_flow
from tests.utils.factories import make_context
from wardprog.config import Settings
from wardprog.models import EngagementEvent, Notification, Stage
from wardprog.models.base import require_id
from wardprog.rules.slots import LONDON, to_utc
from wardprog.services.chasing import chase_returns
from wardprog.services.engagement import record_event_held, run_engagement_stage
from wardprog.services.owners import import_owners


def _chases(session: Session) -> list[Notification]:
    query = select(Notification).where(Notification.kind == "return_chase")
    return list(session.exec(query.order_by(col(Notification.id))).all())


def test_manager_then_matron_once_each_with_the_form_again(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    ctx = make_context(session, settings, as_of=date(2026, 1, 5))
    owners = tmp_path / "owners.csv"
    owners.write_text(
        "level,site_code,specialty,directorate,name,email\n"
        f"matron,{ctx.site.code},General medicine,Medicine,Grace Okafor,grace@trust.example\n"
    )
    import_owners(session, owners)
    run_engagement_stage(ctx)
    event = session.exec(select(EngagementEvent)).one()
    assert event.starts_at is not None
    day = to_utc(event.starts_at).astimezone(LONDON).date()
    assert chase_returns(session, settings, day + timedelta(days=30)) == []  # not held yet
    record_event_held(session, require_id(event), day, day, attendees=10)
    ctx.enrolment.stage = Stage.engagement
    session.add(ctx.enrolment)
    session.flush()

    assert chase_returns(session, settings, day + timedelta(days=6)) == []
    (first,) = chase_returns(session, settings, day + timedelta(days=7))
    assert (first.what, first.who, first.days) == ("triage", "manager", 7)
    assert chase_returns(session, settings, day + timedelta(days=8)) == []  # once
    (manager,) = _chases(session)
    assert manager.recipients == [ctx.ward.manager_email]
    assert "not back yet" in manager.subject and "triage template" in manager.subject
    assert sorted(a["filename"] for a in manager.attachments) == [
        f"triage-{ctx.ward.code}-wave1.csv", f"triage-{ctx.ward.code}-wave1.xlsx",
    ]  # fmt: skip
    (matron,) = chase_returns(session, settings, day + timedelta(days=15))
    assert matron.who == "matron"
    assert _chases(session)[1].recipients == ["grace@trust.example"]
    assert "15 days late" in _chases(session)[1].subject
    assert chase_returns(session, settings, day + timedelta(days=40)) == []

    # Triage is in; the nomination form is now awaited, counted from the same event.
    ctx.enrolment.stage = Stage.triage
    session.add(ctx.enrolment)
    session.flush()
    chased = chase_returns(session, settings, day + timedelta(days=41))
    assert [(c.what, c.who) for c in chased] == [
        ("nominations", "manager"),
        ("nominations", "matron"),
    ]
    form = _chases(session)[2]
    assert [a["filename"] for a in form.attachments] == [
        f"qsir-nominations-{ctx.ward.code}-wave1.csv"
    ]
    assert "QSIR nomination form" in form.body_text
    ctx.enrolment.stage = Stage.complete
    session.add(ctx.enrolment)
    session.flush()
    assert chase_returns(session, settings, day + timedelta(days=60)) == []
    keys = [n.idempotency_key for n in _chases(session)]
    assert len(keys) == len(set(keys)) == 4


def test_chase_returns_flow(session: Session, settings: Settings, prefect_harness: None) -> None:
    ctx = make_context(session, settings, as_of=date(2026, 1, 5))
    run_engagement_stage(ctx)
    event = session.exec(select(EngagementEvent)).one()
    assert event.starts_at is not None
    day = to_utc(event.starts_at).astimezone(LONDON).date()
    record_event_held(session, require_id(event), day, day, attendees=10)
    ctx.enrolment.stage = Stage.engagement
    session.add(ctx.enrolment)
    session.commit()
    result = chase_flow(day + timedelta(days=9))
    assert result["chased"] == 1 and result["chases"][0]["who"] == "manager"
    assert chase_flow(day + timedelta(days=10))["chased"] == 0
