"""The demo's replay: its calendar, and simulated ward staff acting between flow runs.

Staff return what a ward still owes once its engagement event has taken place - the triage
template while triage is not captured, the nomination return while QSIR is not done - and
nothing for a ward whose event is still ahead or which has finished.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from tests.utils.factories import make_enrolment, make_site, make_ward, make_wave
from wardprog.config import Settings
from wardprog.demo.replay import EARLY_FOLLOW_UP, FOLLOW_UP, programme_ticks
from wardprog.demo.simulate import return_templates
from wardprog.models import EngagementEvent, Stage, Ward, Wave
from wardprog.models.base import require_id
from wardprog.services.qsir import nomination_inbox
from wardprog.services.triage import triage_inbox

AS_OF = date(2026, 2, 20)


def _event(session: Session, ward: Ward, wave: Wave, day: date) -> None:
    starts = datetime(day.year, day.month, day.day, 14, tzinfo=UTC)
    session.add(
        EngagementEvent(
            ward_id=require_id(ward),
            wave_id=require_id(wave),
            starts_at=starts,
            ends_at=starts + timedelta(minutes=90),
            uid=f"{ward.code}-{wave.number}@test",
        )
    )
    session.flush()


def _files(settings: Settings, ward: Ward) -> tuple[int, int]:
    def count(folder: Path) -> int:
        return len([p for p in folder.glob("*") if p.is_file()]) if folder.exists() else 0

    return count(triage_inbox(settings, ward.code)), count(nomination_inbox(settings, ward.code))


def test_staff_return_only_what_is_owed_after_the_event(session: Session, settings: Settings):
    site = make_site(session)
    wave = make_wave(session)
    past, future = AS_OF - timedelta(days=10), AS_OF + timedelta(days=3)
    owes_both = make_ward(session, site)
    make_enrolment(session, owes_both, wave, Stage.engagement)
    _event(session, owes_both, wave, past)
    not_yet = make_ward(session, site)
    make_enrolment(session, not_yet, wave, Stage.engagement)
    _event(session, not_yet, wave, future)
    owes_nominations = make_ward(session, site)
    make_enrolment(session, owes_nominations, wave, Stage.triage)
    _event(session, owes_nominations, wave, past)
    finished = make_ward(session, site)
    make_enrolment(session, finished, wave, Stage.complete)
    _event(session, finished, wave, past)
    session.commit()

    assert return_templates(session, settings, AS_OF) == 3
    assert _files(settings, owes_both) == (1, 1)
    assert _files(settings, not_yet) == (0, 0)
    assert _files(settings, owes_nominations) == (0, 1)
    assert _files(settings, finished) == (0, 0)

    # The same day again: the same files, rewritten in place, nothing added.
    return_templates(session, settings, AS_OF)
    assert _files(settings, owes_both) == (1, 1)


def test_ticks_launch_each_quarter_and_follow_up_four_and_seven_weeks_on() -> None:
    ticks = programme_ticks(date(2026, 1, 2), date(2026, 6, 30))
    launches = [d for d, action in ticks if action == "launch"]
    advances = [d for d, action in ticks if action == "advance"]
    assert launches == [date(2026, 1, 2), date(2026, 4, 1)]
    for launch in launches:
        after = [a - launch for a in advances if launch < a < launch + timedelta(weeks=9)]
        assert len(after) == 2
        assert EARLY_FOLLOW_UP <= after[0] < FOLLOW_UP <= after[1]
    assert advances[-1] == date(2026, 6, 30)
    assert ticks == sorted(ticks)
