"""Engagement events recorded as held, from the command line and the demo's facilitator: the
event's date, attendance and facilitator, the audit row, the engagement stage completing on the
day it was held, and bad input refused with nothing written."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.utils.factories import make_context
from tests.utils.programme import Ward, ward_in_programme
from wardprog.cli import app
from wardprog.commands import CommandError, RecordEventHeld, build
from wardprog.config import Settings
from wardprog.demo.simulate import return_templates
from wardprog.models import Action, EngagementEvent, EventStatus, Stage
from wardprog.rules.slots import LONDON, to_utc
from wardprog.services.engagement import run_engagement_stage

runner = CliRunner()


def _day(event: EngagementEvent) -> date:
    assert event.starts_at is not None
    return to_utc(event.starts_at).astimezone(LONDON).date()


@pytest.fixture
def ward(session: Session, settings: Settings, tmp_path: Path) -> Ward:
    return ward_in_programme(session, settings, tmp_path)


def test_record_event_held_from_the_command_line(session: Session, ward: Ward) -> None:
    event = session.get(EngagementEvent, ward.event_id)
    assert event is not None
    day = _day(event)
    base = ["events", "held", ward.code, "--wave", "1", "--held-on", day.isoformat()]
    early = runner.invoke(
        app, [*base, "--attendees", "5", "--on", (day - timedelta(1)).isoformat()]
    )
    assert early.exit_code == 2 and "in the future" in early.stderr
    nobody = runner.invoke(app, [*base, "--on", day.isoformat()])
    assert nobody.exit_code == 2 and "attendees" in nobody.stderr
    session.expire_all()
    assert not session.exec(select(Action).where(Action.command == "RecordEventHeld")).all()
    ok = runner.invoke(
        app,
        [*base, "--attendees", "11", "--name", "Ann Lee", "--name", "Bo Chen",
         "--facilitator", "Priya Raman", "--by", "Priya Raman", "--on",
         (day + timedelta(1)).isoformat(), "--json"],
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "11 attended, facilitated by Priya Raman" in ok.output
    session.expire_all()
    held = session.get(EngagementEvent, ward.event_id)
    assert held is not None and held.status is EventStatus.held and held.held_on == day
    assert (held.attendees_count, held.attendee_names) == (11, ["Ann Lee", "Bo Chen"])
    (action,) = session.exec(select(Action).where(Action.command == "RecordEventHeld")).all()
    assert action.ward_code == ward.code and action.fields["attendees"] == 11


def test_the_command_refuses_attendance_it_cannot_believe() -> None:
    fields = {"actor": {"name": "Sam"}, "on": date(2026, 3, 1), "ward_code": "w1", "wave": 1,
              "held_on": date(2026, 3, 1)}  # fmt: skip
    with pytest.raises(CommandError, match="attendees"):
        build(RecordEventHeld, **fields)
    with pytest.raises(CommandError, match="2 names but attendees is 1"):
        build(RecordEventHeld, **fields, attendees=1, names=["A", "B"])
    assert build(RecordEventHeld, **fields, names=["A"]).ward_code == "W1"


def test_the_demo_facilitator_records_the_event_on_its_day(
    session: Session, settings: Settings
) -> None:
    ctx = make_context(session, settings, as_of=date(2026, 1, 5))
    run_engagement_stage(ctx)
    ctx.enrolment.stage = Stage.diagnostic  # invited; engagement not complete
    session.add(ctx.enrolment)
    event = session.exec(select(EngagementEvent)).one()
    day = _day(event)
    session.commit()
    assert return_templates(session, settings, day - timedelta(days=1)) == 0  # not before
    assert event.status is EventStatus.scheduled
    # On the day: recorded as held, then the triage template and nominations come back.
    assert return_templates(session, settings, day) == 2
    assert event.status is EventStatus.held and event.held_on == day
    assert event.attendees_count is not None and 8 <= event.attendees_count <= 16
    (action,) = session.exec(select(Action)).all()
    assert (action.command, action.source_kind) == ("RecordEventHeld", "demo")
    return_templates(session, settings, day + timedelta(days=1))  # the next run: not again
    assert len(session.exec(select(Action)).all()) == 1
    ctx.as_of = day + timedelta(days=1)
    assert run_engagement_stage(ctx).details["completed_on"] == day
