"""Two launches of the same quarter at the same instant, on PostgreSQL: one wave, once.

A double trigger happens in production: someone presses "Quick run" on the quarterly
deployment while the schedule's run is going, or a late worker picks up a run another worker
already started. Both processes race on `open_wave` (the (programme, number) unique constraint
decides the winner; the loser adopts its wave) and then on every ward's stages (the stage
rows' unique keys and the enrolment advance decide). The outcome must be exactly what one
launch gives: one wave, 15 enrolments, one message per notification key.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from tests.topology.harness import Processes, wait_until, wardprog_env
from tests.topology.outcome import flow_command, outcome, subprocess_env
from wardprog.config import Settings
from wardprog.db import get_engine
from wardprog.demo.runner import prepare_demo, write_register
from wardprog.models import Notification, Stage, Ward, WardEnrolment, Wave

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.mark.parametrize("fresh_db_url", ["postgres"], indirect=True)
def test_two_launches_for_one_quarter_make_one_wave(
    fresh_settings: Settings, prefect_harness: None, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL

    prepare_demo(
        fresh_settings,
        date(2026, 1, 2),
        date(2026, 3, 31),
        write_register(tmp_path / "wards.csv", wards_per_site=5),
    )
    env = wardprog_env(fresh_settings)
    go = tmp_path / "go"
    procs = Processes(
        tmp_path / "logs", subprocess_env(str(PREFECT_API_URL.value()), tmp_path / "prefect")
    )
    try:
        launches = [
            procs.start(
                f"launch-{n}",
                flow_command(
                    "launch",
                    "2026-01-02",
                    "--simulate-staff",
                    "--ready",
                    str(tmp_path / f"ready-{n}"),
                    "--go",
                    str(go),
                ),
                env,
            )
            for n in (1, 2)
        ]
        # Both processes have imported everything; release them together.
        for n, launch in enumerate(launches, start=1):
            wait_until((tmp_path / f"ready-{n}").exists, 60, f"launch-{n} ready", alive=launch)
        go.touch()
        for launch in launches:
            launch.proc.wait(timeout=180)
        results = []
        for launch in launches:
            assert launch.proc.returncode == 0, launch.tail(80)
            results.append(json.loads(launch.log.read_text().strip().splitlines()[-1]))
        procs.run("dispatch", flow_command("dispatch", "2026-01-02"), env)
    finally:
        procs.stop_all()

    # One of the two created the wave; the other found it.
    assert sorted(r["created"] for r in results) == [False, True]
    assert {r["wave"] for r in results} == {1}

    with Session(get_engine(fresh_settings.database_url)) as session:
        waves = session.exec(select(Wave)).all()
        enrolments = session.exec(select(WardEnrolment)).all()
        keys = session.exec(select(Notification.idempotency_key)).all()
    assert [w.number for w in waves] == [1]
    assert len(enrolments) == 15
    assert len({e.ward_id for e in enrolments}) == 15
    # Every ward is invited; the engagement stage completes only when its event is held,
    # weeks later: a single launch takes each ward that far, and no further.
    assert {e.stage for e in enrolments} == {Stage.diagnostic}

    result = outcome(fresh_settings)
    assert max(Counter(keys).values()) == 1
    ward_codes = sorted(result_codes(fresh_settings))
    # The improvement team's announcement and one per ward manager, each exactly once.
    assert sorted(k for k in keys if k.startswith("wave_launch:")) == sorted(
        ["wave_launch:wave-1:team", *(f"wave_launch:{c}:wave-1" for c in ward_codes)]
    )
    assert all(status == "sent" for status, _ in result.notifications.values())
    assert all(ok == 1 for _, ok in result.notifications.values())
    assert result.outbox_files == {key: 1 for key in result.notifications}
    for table in ("diagnosticsnapshot", "engagementevent"):
        assert result.rows[table] == 15, table


def result_codes(settings: Settings) -> list[str]:
    with Session(get_engine(settings.database_url)) as session:
        return list(
            session.exec(
                select(Ward.code).join(WardEnrolment, col(WardEnrolment.ward_id) == col(Ward.id))
            ).all()
        )
