"""Slipped wards: DeferWard moves an enrolled ward (not yet engaged) to the next wave with its
reason; its booked event is cancelled, the ward is told, the next wave takes it first and the
planner says where it cannot keep five per site."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from wardprog.cli import app
from wardprog.config import Settings
from wardprog.demo.team import register_demo_team
from wardprog.errors import WardprogError
from wardprog.models import (
    Action,
    EngagementEvent,
    EventStatus,
    Notification,
    Site,
    Ward,
    WardDeferral,
    WardEnrolment,
    Wave,
)
from wardprog.rules.planner import PlannedWave, shortfalls
from wardprog.services.context import context_for_ward
from wardprog.services.engagement import record_event_held, run_engagement_stage
from wardprog.services.programme import ensure_programme, open_wave
from wardprog.services.register import demo_register_path, import_register

START = date(2026, 1, 2)


def _wave1(session: Session, settings: Settings) -> list[str]:
    import_register(session, demo_register_path())
    register_demo_team(session)
    programme = ensure_programme(session, settings, START)
    opened = open_wave(session, settings, programme, START)
    assert opened is not None
    session.commit()
    rows = session.exec(
        select(Ward.code).where(WardEnrolment.ward_id == Ward.id).order_by(Ward.code)
    ).all()
    return list(rows)


def test_shortfalls_in_words() -> None:
    plan = [
        PlannedWave(1, START, START, ("A1", "A2", "B1")),
        PlannedWave(2, START, START, ("A3", "B2", "B3")),
    ]
    site_of = {"A1": "A", "A2": "A", "A3": "A", "B1": "B", "B2": "B", "B3": "B"}
    assert shortfalls(plan, site_of, 2) == [
        "wave 1: B has 1 of 2 (a ward was moved after the wave opened)",
        "wave 2: A has 1 of 2 (no more wards left on the site)",
    ]


def test_defer_ward_from_the_command_line(session: Session, settings: Settings) -> None:
    wards = _wave1(session, settings)
    moved = next(w for w in wards if w.startswith("NGH"))
    ctx = context_for_ward(session, settings, moved, START)
    run_engagement_stage(ctx)  # invited: not yet engaged
    session.commit()
    runner = CliRunner()
    result = runner.invoke(
        app, ["wards", "defer", moved, "--reason", "Norovirus outbreak: closed to admissions",
              "--by", "Improvement team", "--on", "2026-01-12", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["summary"].startswith(f"{moved} moved from wave 1 to wave 2: Norovirus")
    # Five per site from wave 2 on, so the last NGH ward needs a fifth wave: said, not hidden.
    assert out["details"]["plan_notes"] == [
        "wave 1: NGH has 4 of 5 (a ward was moved after the wave opened)",
        "wave 5: NGH has 1 of 5 (no more wards left on the site)",
    ]
    session.expire_all()
    assert session.exec(select(WardEnrolment).join(Ward).where(Ward.code == moved)).first() is None
    (deferral,) = session.exec(select(WardDeferral)).all()
    assert deferral.reason.startswith("Norovirus") and deferral.deferred_on == date(2026, 1, 12)
    event = session.exec(select(EngagementEvent)).one()
    assert event.status is EventStatus.cancelled
    (told,) = session.exec(select(Notification).where(Notification.kind == "ward_deferred")).all()
    assert "moves to wave 2" in told.subject and "Norovirus" in told.body_text
    assert session.exec(
        select(Notification).where(Notification.kind == "engagement_cancelled")
    ).first()
    (action,) = session.exec(select(Action).where(Action.command == "DeferWard")).all()
    assert action.ward_code == moved

    # Wave 2 takes the deferred ward first and still five per site.
    programme = ensure_programme(session, settings, START)
    opened = open_wave(session, settings, programme, date(2026, 4, 1))
    assert opened is not None
    session.commit()
    wave2 = session.exec(select(Wave).where(Wave.number == 2)).one()
    codes = session.exec(
        select(Ward.code, Site.code)
        .where(WardEnrolment.ward_id == Ward.id, Ward.site_id == Site.id)
        .where(WardEnrolment.wave_id == wave2.id)
    ).all()
    assert moved in {c for c, _ in codes}
    assert sum(1 for _, s in codes if s == "NGH") == 5

    again = runner.invoke(app, ["wards", "defer", "NOPE", "--reason", "x", "--by", "Team"])
    assert again.exit_code == 2 and "no ward with code 'NOPE'" in again.stderr


def test_an_engaged_ward_cannot_be_moved(session: Session, settings: Settings) -> None:
    from wardprog.commands import DeferWard, build
    from wardprog.services.handlers import run

    wards = _wave1(session, settings)
    ctx = context_for_ward(session, settings, wards[0], START)
    run_engagement_stage(ctx)
    event = session.exec(select(EngagementEvent)).one()
    assert event.id is not None and event.starts_at is not None
    day = event.starts_at.date()
    record_event_held(session, event.id, day, day, attendees=9)
    with pytest.raises(WardprogError, match="already held its engagement event"):
        run(session, settings, build(DeferWard, actor={"name": "Team"}, on=day,
                                     ward_code=wards[0], reason="too late"))  # fmt: skip


def test_the_demo_defers_its_slipped_ward_once(session: Session, settings: Settings) -> None:
    from wardprog.demo.follow_up import SLIPPED_WARD, simulate_follow_up

    assert SLIPPED_WARD in _wave1(session, settings)
    assert simulate_follow_up(session, START) == 1
    session.commit()
    (action,) = session.exec(select(Action).where(Action.command == "DeferWard")).all()
    assert (action.ward_code, action.source_kind) == (SLIPPED_WARD, "demo")
    assert simulate_follow_up(session, date(2026, 2, 20)) == 0  # once
