"""The programme end to end through the Prefect flows, on SQLite and PostgreSQL.

A small trust (3 sites x 6 wards: two waves, 5 + 1 wards per site) replayed over two quarters with
simulated ward staff: every ward reaches `complete`, every ward has a pack, an event, triage items
and nominations; a second replay writes no new rows and no new notifications.
"""

from collections import Counter
from datetime import date

import pytest
from sqlmodel import Session, select

from wardprog.db import get_engine
from wardprog.demo.runner import prepare_demo, run_demo, write_register
from wardprog.models import (
    DiagnosticSnapshot,
    Notification,
    Stage,
    WardEnrolment,
    Wave,
    WaveStatus,
)
from wardprog.status import table_counts

pytestmark = pytest.mark.slow


def test_two_waves_end_to_end_and_idempotent(fresh_settings, prefect_harness, tmp_path):
    start, end = date(2026, 1, 2), date(2026, 6, 30)
    register = write_register(tmp_path / "wards.csv", wards_per_site=6)
    prepare_demo(fresh_settings, start, end, register)
    run_demo(start, end)

    engine = get_engine(fresh_settings.database_url)
    with Session(engine) as session:
        enrolments = session.exec(select(WardEnrolment)).all()
        waves = session.exec(select(Wave).order_by(Wave.number)).all()
        first = table_counts(session)
    assert len(enrolments) == 18
    assert {e.stage for e in enrolments} == {Stage.complete}
    assert [(w.number, w.status) for w in waves] == [
        (1, WaveStatus.complete),
        (2, WaveStatus.complete),
    ]
    assert first["engagementevent"] == 18
    with Session(engine) as session:
        kinds = Counter(s.kind for s in session.exec(select(DiagnosticSnapshot)).all())
    # a baseline per ward, and the 3-month re-check for wave 1 (events in Jan/Feb)
    assert kinds["baseline"] == 18 and kinds["recheck_3m"] == 15
    assert first["triageitem"] >= 18 and first["qsirnomination"] >= 18
    assert first["notification"] > 0
    packs = list((fresh_settings.output_dir / "packs").glob("*.html"))
    assert len(packs) == 18
    # A board report (HTML, and its PDF where Chromium is installed) for each month replayed.
    board = fresh_settings.output_dir / "board"
    assert sorted(p.name for p in board.glob("*.html")) == [f"2026-0{m}.html" for m in range(1, 7)]
    with Session(engine) as session:
        sent = session.exec(select(Notification).where(Notification.kind == "board_report")).all()
    assert len(sent) == 6

    prepare_demo(fresh_settings, start, end, register)
    run_demo(start, end)
    with Session(engine) as session:
        assert table_counts(session) == first
