"""One clock: what the engine writes is dated on the day it works on (SQLite and PostgreSQL).

That `status --as-of` a replayed day reads the programme as it stood then is checked on the
end-to-end replay (``test_programme_e2e``): one two-wave replay per database serves both.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, select
from typer.testing import CliRunner

from flows.notify import improvement_team_digest
from wardprog import clock
from wardprog.config import Settings
from wardprog.db import get_engine
from wardprog.models import (
    Notification,
)
from wardprog.rules.slots import to_utc

LONDON = ZoneInfo("Europe/London")
runner = CliRunner()


def _day(value: datetime) -> date:
    return to_utc(value).astimezone(LONDON).date()


def test_running_on_a_past_day_simulates_it_and_today_keeps_the_wall_clock() -> None:
    past = date(2026, 3, 2)
    assert not clock.is_simulated()
    with clock.running_on(past) as day:
        assert day == past and clock.is_simulated()
        assert clock.now() == datetime(2026, 3, 2, 9, tzinfo=LONDON)
        assert clock.today() == past
        # A flow called inside a run on the same day keeps its clock.
        with clock.running_on(past):
            assert clock.now() == datetime(2026, 3, 2, 9, tzinfo=LONDON)
    assert not clock.is_simulated()
    with clock.running_on(None):
        assert not clock.is_simulated()
        assert abs(clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
    with clock.running_on(clock.today()):
        assert not clock.is_simulated()


def test_a_flow_run_with_as_of_writes_created_at_on_that_day(
    settings: Settings, prefect_harness: None
) -> None:
    day = date(2026, 2, 16)
    assert day != date.today()
    improvement_team_digest(as_of=day)
    with Session(get_engine(settings.database_url)) as session:
        notes = session.exec(select(Notification)).all()
    assert notes and {_day(n.created_at) for n in notes} == {day}
