"""Production topology, for real: Prefect server on PostgreSQL, `prefect deploy`, two workers.

    prefect server start (PostgreSQL) <- prefect work-pool create; prefect deploy --all
          ^                           <- two `prefect worker start --pool wardprog`
          |                              (flow-run subprocesses; app database on PostgreSQL)
    run_deployment(quarterly-wave-launch) -> the wave's 15 wards as far as they can go; its
        diagnostic stage goes out as one ward-stage-batch run per site, over both workers;
        one worker is killed (SIGKILL, its flow-run subprocesses with it) mid-batch
    run_deployment(daily-advance)         -> the survivor takes the killed batch's wards on
    run_deployment(daily-advance)         -> returned templates picked up -> wave complete,
        every row and message once

Everything listens on 127.0.0.1 and lives in throw-away databases and folders. The server's
scheduler service is off: the test drives the programme on the simulated clock (``as_of``), and
real-clock scheduled runs (the 15-minute dispatch) would otherwise land on the workers mid-test.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import date
from pathlib import Path
from typing import cast
from uuid import UUID

import pytest
import yaml
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowRunFilter,
    FlowRunFilterId,
)
from prefect.client.schemas.objects import FlowRun
from prefect.client.schemas.sorting import DeploymentSort, FlowRunSort
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlmodel import Session, select

from tests.conftest import PG_ADMIN_URL
from tests.topology.harness import (
    BIN,
    REPO,
    Managed,
    Processes,
    api_healthy,
    free_port,
    kill_group,
    scratch_database,
    wait_until,
    wardprog_env,
)
from tests.topology.run_flow import return_templates_due
from tests.topology.web import close_a_fix_through_the_web
from wardprog.config import Settings
from wardprog.db import get_engine
from wardprog.demo.runner import prepare_demo, write_register
from wardprog.models import (
    DiagnosticSnapshot,
    EngagementEvent,
    Notification,
    Stage,
    WardEnrolment,
    Wave,
    WaveStatus,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PREFECT = BIN / "prefect"
POOL = "wardprog"
WORKERS = ("ward-worker-a", "ward-worker-b")
LAUNCH = "launch-wave/quarterly-wave-launch"
ADVANCE = "advance-wards/daily-advance"
BATCH = "ward-stage-batch/ward-stage-batch"
# The label a worker gives each flow run it takes (Prefect's own, read back through the API).
WORKER_LABEL = "prefect.worker.name"
# How long the wave's run waits for a site batch (each a fresh worker subprocess; on the one
# surviving worker they queue behind each other). A killed worker's batch is marked crashed.
BATCH_TIMEOUT = 400


def _deployment_names() -> set[str]:
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return {d["name"] for d in spec["deployments"]}


def _deploy_all(procs: Processes) -> None:
    """`prefect deploy --all` from the repository root, as the README tells operators."""
    deploy = procs.start("deploy-all", [PREFECT, "--no-prompt", "deploy", "--all"])
    deploy.proc.wait(timeout=180)
    if deploy.proc.returncode != 0:
        raise AssertionError(f"prefect deploy --all failed:\n{deploy.tail(80)}")


async def _deployments() -> set[str]:
    async with get_client() as client:
        found = await client.read_deployments(sort=DeploymentSort.NAME_ASC, limit=100)
        return {d.name for d in found}


async def _online_workers() -> set[str]:
    async with get_client() as client:
        found = await client.read_workers_for_work_pool(POOL, offset=0, limit=50)
        return {w.name for w in found if str(w.status).upper().endswith("ONLINE")}


async def _read_run(run_id: UUID) -> FlowRun:
    async with get_client() as client:
        return await client.read_flow_run(run_id)


async def _batches_of(parent: UUID, stage: str = "diagnostic") -> list[FlowRun]:
    """A stage's site batches a wave's run started (idempotency key: parent:stage:site)."""
    async with get_client() as client:
        batch = await client.read_deployment_by_name(BATCH)
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[batch.id])),
            limit=50,
        )
        return [r for r in runs if (r.idempotency_key or "").startswith(f"{parent}:{stage}:")]


async def _workers_of(run_ids: list[UUID]) -> dict[UUID, str | int | float | None]:
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=run_ids)), limit=50
        )
        return {r.id: r.labels.get(WORKER_LABEL) for r in runs}


def _kill_a_batch_worker(parent: UUID, workers: dict[str, Managed], timeout: float) -> str:
    """SIGKILL the worker running one of ``parent``'s batches (not the parent's own worker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        own = asyncio.run(_read_run(parent)).labels.get(WORKER_LABEL)
        for run in asyncio.run(_batches_of(parent)):
            name = run.labels.get(WORKER_LABEL)
            if name in workers and name != own and run.state and run.state.is_running():
                kill_group(workers[name].proc, signal.SIGKILL)
                workers[name].proc.wait(timeout=10)
                return name
        time.sleep(0.2)
    raise AssertionError(f"no batch of {parent} ran on the other worker within {timeout}s")


async def _flow_runs(*deployments: str) -> tuple[list[FlowRun], list[UUID]]:
    async with get_client() as client:
        ids = [(await client.read_deployment_by_name(name)).id for name in deployments]
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=ids)),
            sort=FlowRunSort.START_TIME_ASC,
            limit=20,
        )
        return runs, ids


def _parameters(as_of: str) -> dict[str, object]:
    return {"as_of": as_of, "batch_timeout": BATCH_TIMEOUT}


def _check_completed(name: str, run: FlowRun, logs: list[Managed]) -> None:
    assert run.state is not None and run.state.is_completed(), f"{name} ended {run.state!r}\n" + (
        "\n\n".join(f"--- {m.name} ---\n{m.tail(60)}" for m in logs)
    )


def _trigger(name: str, as_of: str, logs: list[Managed]) -> FlowRun:
    # Sync call from a test: returns the FlowRun once finished (or after the timeout).
    run = cast(FlowRun, run_deployment(name, parameters=_parameters(as_of), timeout=240))
    _check_completed(name, run, logs)
    return run


def _await_final(run_id: UUID, timeout: float) -> FlowRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = asyncio.run(_read_run(run_id))
        if run.state is not None and run.state.is_final():
            return run
        time.sleep(0.5)
    return asyncio.run(_read_run(run_id))


# Every flow run is a fresh worker subprocess (imports Prefect and wardprog: seconds each on two
# busy cores), and this test starts about a dozen of them.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("fresh_db_url", ["postgres"], indirect=True)
def test_server_on_postgres_two_workers_complete_a_wave(
    fresh_settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    # Nothing from the outer Prefect profile (a developer's PREFECT_API_URL) leaks in.
    outer = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env = {
        **outer,
        **wardprog_env(fresh_settings),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "WARDPROG_HOME": str(REPO),  # the prefect.yaml pull step's working directory
    }
    procs = Processes(tmp_path / "logs", env)
    try:
        with scratch_database(PG_ADMIN_URL, "prefect") as prefect_db:
            server = procs.start(
                "server",
                [PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                {
                    "PREFECT_API_DATABASE_CONNECTION_URL": prefect_db.replace(
                        "postgresql://", "postgresql+asyncpg://", 1
                    ),
                    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
                    "PREFECT_SERVER_UI_ENABLED": "false",
                },
            )
            wait_until(lambda: api_healthy(api), 120, "the Prefect API /health", alive=server)
            procs.run("work-pool", [PREFECT, "work-pool", "create", POOL, "--type", "process"])
            _deploy_all(procs)

            register = write_register(tmp_path / "wards.csv", wards_per_site=5)
            prepare_demo(fresh_settings, date(2026, 1, 2), date(2026, 3, 31), register)
            # Two flow runs at a time each: a wave's run and one of its site batches fit on one
            # worker, so the three batches cannot all queue behind the wave on one of them.
            workers = {
                name: procs.start(
                    name,
                    [PREFECT, "worker", "start", "--pool", POOL, "--name", name, "--limit", "2"],
                    {"PREFECT_WORKER_QUERY_SECONDS": "1"},
                )
                for name in WORKERS
            }
            logs = [server, *workers.values()]

            with temporary_settings({PREFECT_API_URL: api}):
                assert asyncio.run(_deployments()) == _deployment_names()
                wait_until(
                    lambda: asyncio.run(_online_workers()) >= set(WORKERS),
                    90,
                    "both workers online on the pool",
                    interval=1,
                )
                # The quarter's first working day: the wave opens, its diagnostic stage goes out
                # as one batch per site; one worker dies while it runs one of them.
                launch = cast(
                    FlowRun, run_deployment(LAUNCH, parameters=_parameters("2026-01-02"), timeout=0)
                )
                killed = _kill_a_batch_worker(launch.id, workers, timeout=180)
                launched = _await_final(launch.id, timeout=240)
                _check_completed(LAUNCH, launched, logs)
                batches = asyncio.run(_batches_of(launch.id))
                ran_on = asyncio.run(_workers_of([launch.id, *(b.id for b in batches)]))
                # The next daily run, on the survivor, takes the killed batch's wards on.
                _trigger(ADVANCE, "2026-01-02", logs)
                # Seven weeks on, after every engagement event: templates back, wave complete.
                return_templates_due(date(2026, 2, 20))
                _trigger(ADVANCE, "2026-02-20", logs)
                runs, ids = asyncio.run(_flow_runs(LAUNCH, ADVANCE))
                online = asyncio.run(_online_workers())
            # The ward page runs beside them on the same app database.
            assert close_a_fix_through_the_web(procs, fresh_settings) > 0
    finally:
        procs.stop_all()

    # App state is in PostgreSQL: the wave complete, and every ward's rows and messages once
    # although one batch died part-way and its wards were taken on again.
    with Session(get_engine(fresh_settings.database_url)) as session:
        enrolments = session.exec(select(WardEnrolment)).all()
        waves = session.exec(select(Wave)).all()
        snapshots = session.exec(select(DiagnosticSnapshot.ward_id)).all()
        events = session.exec(select(EngagementEvent.ward_id)).all()
        kinds = [n.kind for n in session.exec(select(Notification)).all()]
    assert len(enrolments) == 15
    assert {e.stage for e in enrolments} == {Stage.complete}
    assert [(w.number, w.status) for w in waves] == [(1, WaveStatus.complete)]
    assert len(snapshots) == len(set(snapshots)) == 15
    assert len(events) == len(set(events)) == 15
    assert kinds.count("diagnostic_pack_ready") == kinds.count("engagement_invite") == 15

    # The wave's work ran on both workers (Prefect's worker label on each flow run): the
    # launch on one, its site batches (three, one per site) on the pool.
    assert len(batches) == 3
    assert set(ran_on.values()) == set(WORKERS), ran_on
    assert killed in WORKERS and killed != ran_on[launch.id]

    # Flow runs are visible through the Prefect API, each from its deployment, on the pool.
    assert {r.deployment_id for r in runs} == set(ids)
    assert [r.deployment_id for r in runs].count(ids[1]) == 2
    assert all(r.state is not None and r.state.is_completed() for r in runs)
    assert {r.work_pool_name for r in runs} == {POOL}
    assert online >= set(WORKERS) - {killed}
