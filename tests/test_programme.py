"""Opening waves: the plan, idempotency, and two launches racing for one quarter."""

import threading
from datetime import date

import pytest
from sqlmodel import Session, SQLModel, func, select

from tests.utils.factories import make_enrolment, make_site, make_ward, make_wave
from wardprog.db import get_engine, session_scope
from wardprog.errors import WardprogError
from wardprog.models import Notification, Stage, WardEnrolment, Wave, WaveStatus
from wardprog.services.programme import (
    ensure_programme,
    open_wave,
    refresh_wave_status,
    rollout_plan,
)
from wardprog.services.register import demo_register_path, import_register


@pytest.fixture
def demo_trust(engine, settings):
    with session_scope(engine) as session:
        import_register(session, demo_register_path())
        ensure_programme(session, settings, date(2026, 1, 2))


def _count(session: Session, model: type[SQLModel]) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_open_wave_enrols_five_per_site_and_is_idempotent(demo_trust, engine, settings):
    with session_scope(engine) as session:
        prog = ensure_programme(session, settings, date(2026, 1, 2))
        first = open_wave(session, settings, prog, date(2026, 1, 2))
    with session_scope(engine) as session:
        again = open_wave(session, settings, prog, date(2026, 1, 20))
    assert first is not None and again is not None
    assert first.created and not again.created
    assert first.enrolment_ids == again.enrolment_ids and len(first.enrolment_ids) == 15
    with Session(engine) as session:
        assert _count(session, Wave) == 1
        assert _count(session, WardEnrolment) == 15
        # one message to the team and one to each ward manager, once
        assert _count(session, Notification) == 16


def test_four_waves_then_nothing_left(demo_trust, engine, settings):
    launches = [date(2026, 1, 2), date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1)]
    with session_scope(engine) as session:
        prog = ensure_programme(session, settings, date(2026, 1, 2))
        for day in launches:
            assert open_wave(session, settings, prog, day) is not None
        assert open_wave(session, settings, prog, date(2027, 1, 4)) is None
        plan = rollout_plan(session, prog)
    assert [len(w.ward_codes) for w in plan] == [15, 15, 15, 15]
    with (
        pytest.raises(WardprogError, match="before the programme starts"),
        session_scope(engine) as session,
    ):
        open_wave(session, settings, prog, date(2025, 12, 1))


def test_concurrent_launches_make_one_wave(demo_trust, settings, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers; the race is a PostgreSQL concern")
    barrier = threading.Barrier(2)
    results, errors = [], []

    def launch() -> None:
        try:
            engine = get_engine(db_url)
            with session_scope(engine) as session:
                prog = ensure_programme(session, settings, date(2026, 1, 2))
                barrier.wait(timeout=10)
                results.append(open_wave(session, settings, prog, date(2026, 1, 2)))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=launch) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with Session(get_engine(db_url)) as session:
        assert _count(session, Wave) == 1
        assert _count(session, WardEnrolment) == 15
    # Either both succeed (one adopting the other's wave) or the loser's transaction failed
    # cleanly; never two waves.
    assert len(results) + len(errors) == 2 and len(results) >= 1


def test_a_wave_is_complete_once_every_ward_is_and_not_before(session: Session) -> None:
    wave = make_wave(session)
    wave_id = wave.id
    assert wave_id is not None
    assert refresh_wave_status(session, wave_id, date(2026, 2, 2)).status is WaveStatus.launched
    site = make_site(session)
    wards = [make_ward(session, site) for _ in range(3)]
    enrolments = [make_enrolment(session, w, wave, Stage.complete) for w in wards[:2]]
    enrolments.append(make_enrolment(session, wards[2], wave, Stage.qsir))
    assert refresh_wave_status(session, wave_id, date(2026, 2, 2)).status is WaveStatus.launched
    enrolments[2].stage = Stage.complete
    session.add(enrolments[2])
    session.flush()
    done = refresh_wave_status(session, wave_id, date(2026, 2, 3))
    assert done.status is WaveStatus.complete
    assert done.completed_at is not None and done.completed_at.date() == date(2026, 2, 3)
