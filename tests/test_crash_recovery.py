"""A flow process killed with SIGKILL mid-wave, then re-run: nothing doubled, nothing lost.

SIGKILL is the hard case - no `finally`, no rollback handler, no Prefect crash hook; a power cut
or an OOM kill on the worker looks exactly like this. The guarantee comes from the stage
contract (each ward's stage commits together with its enrolment advance; a re-run finds the
committed rows by their unique keys) and the outbox (enqueued in the same transaction, sent
at least once, recorded per delivery).

The yardstick is a clean, uninterrupted run of the same trust in another database: the killed
and re-run programme must end with the same rows per table and the same notification keys,
each delivered exactly once.
"""

from __future__ import annotations

import signal
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from tests.topology.harness import Processes, kill_group, wait_until, wardprog_env
from tests.topology.outcome import (
    Outcome,
    flow_command,
    outcome,
    run_quarter,
    stable_keys,
    subprocess_env,
)
from wardprog import db
from wardprog.config import Settings
from wardprog.db import get_engine
from wardprog.demo.runner import prepare_demo, write_register
from wardprog.models import DiagnosticSnapshot, Stage, WardEnrolment

pytestmark = pytest.mark.slow

START, END = date(2026, 1, 2), date(2026, 3, 31)
WARDS_PER_SITE = 5  # one wave of 15 wards on 3 sites


def _prefect_api() -> str:
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    assert url, "prefect_harness must be active"
    return str(url)


@pytest.fixture(scope="module")
def clean_run(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """The same trust run once without interruption (SQLite; the outcome is backend-neutral)."""
    root = tmp_path_factory.mktemp("clean-run")
    settings = Settings(
        database_url=f"sqlite:///{root / 'wardprog.db'}",
        var_dir=root / "var",
        output_dir=root / "out",
        extracts_dir=root / "extracts",
        inbox_dir=root / "inbox",
        notify_config=None,
    )
    prepare_demo(settings, START, END, write_register(root / "wards.csv", WARDS_PER_SITE))
    procs = Processes(root / "logs", subprocess_env(_prefect_api(), root / "prefect-home"))
    try:
        run_quarter(procs, wardprog_env(settings), "clean")
        return outcome(settings)
    finally:
        procs.stop_all()
        engine = db._engines.pop(db.normalise_url(settings.database_url), None)
        if engine is not None:
            engine.dispose()


def _count(settings: Settings, column: Any, where: Any = True) -> int:
    with Session(get_engine(settings.database_url)) as session:
        return int(session.exec(select(func.count(column)).where(where)).one())


def test_sigkill_mid_wave_then_rerun(
    fresh_settings: Settings, clean_run: Outcome, tmp_path: Path
) -> None:
    prepare_demo(fresh_settings, START, END, write_register(tmp_path / "wards.csv", WARDS_PER_SITE))
    env = wardprog_env(fresh_settings)
    procs = Processes(tmp_path / "logs", subprocess_env(_prefect_api(), tmp_path / "prefect"))
    try:
        victim = procs.start(
            "launch-killed", flow_command("launch", "2026-01-02", "--simulate-staff"), env
        )
        wait_until(
            lambda: _count(fresh_settings, DiagnosticSnapshot.id) >= 3,
            120,
            "three diagnostic snapshots",
            interval=0.05,
            alive=victim,
        )
        kill_group(victim.proc, signal.SIGKILL)
        victim.proc.wait(timeout=10)
        assert victim.proc.returncode == -signal.SIGKILL

        # Killed mid-wave: part of the work committed, the rest not started.
        done = _count(fresh_settings, WardEnrolment.id, WardEnrolment.stage == Stage.complete)
        assert _count(fresh_settings, DiagnosticSnapshot.id) >= 3
        assert done < 15

        run_quarter(procs, env, "rerun")
    finally:
        procs.stop_all()

    after = outcome(fresh_settings)
    assert after.rows == clean_run.rows
    assert _count(fresh_settings, WardEnrolment.id, WardEnrolment.stage == Stage.complete) == 15
    # Every notification the clean run sent, no other, each sent once and written once.
    assert stable_keys(after.notifications) == stable_keys(clean_run.notifications)
    assert sorted(after.notifications.values()) == sorted(clean_run.notifications.values())
    assert all(status == "sent" for status, _ in after.notifications.values())
    assert all(ok == 1 for _, ok in after.notifications.values())
    assert after.outbox_files == {key: 1 for key in after.notifications}
