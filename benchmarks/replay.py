"""The demo's replay against a bare Prefect flow, measured in the same run on the same machine.

Prepares the 60-ward demo trust (SQLite, generated extracts) in a temporary folder with its own
Prefect home and Prefect's local ephemeral API, exactly as `make demo` does, then times:

- **bare**: a flow that calls 200 no-op tasks, one after another (Prefect's own floor here);
- **replay**: the demo's `run-programme` flow run (the whole 2026 programme, simulated staff).

and prints both, the ratio (goal: replay within 5x bare) and the peak RSS of this process.
The bare flow runs twice: the first run also starts the local API (what a fresh `make demo`
pays once), the second is the floor the ratio is taken against; the replay runs after both.

Last, **same shape**: a bare flow with as many subflows and no-op tasks as the replay made
(counted from the Prefect API), run the way the replay runs (heartbeats off). It is Prefect's
own floor for a run of that shape on this machine: what the replay costs beyond it is wardprog's
work, and the ratio to it says how much of the replay is orchestration.

Usage: `.venv/bin/python benchmarks/replay.py [--end 2026-12-31] [--register wards.csv]`.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
from wardprog.prefect_env import tune_local_server  # noqa: E402

tune_local_server()  # as the wardprog command runs its local API
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# On two busy cores the local API can take longer than Prefect's 20 s default to come up.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

START, END = date(2026, 1, 2), date(2026, 12, 31)


def point_at(workdir: Path) -> None:
    """WARDPROG_* and PREFECT_HOME under ``workdir``; must run before Prefect is imported."""
    os.environ["PREFECT_HOME"] = str(workdir / "prefect")
    (workdir / "prefect").mkdir(parents=True, exist_ok=True)
    use_workdir(workdir, "wardprog.db")
    os.environ.pop("WARDPROG_NOTIFY_CONFIG", None)


def use_workdir(workdir: Path, db_file: str) -> None:
    """WARDPROG_*: a SQLite database and the var, out, extracts and inbox folders in ``workdir``."""
    os.environ["WARDPROG_DATABASE_URL"] = f"sqlite:///{workdir / db_file}"
    for key, sub in (
        ("VAR_DIR", "var"),
        ("OUTPUT_DIR", "out"),
        ("EXTRACTS_DIR", "extracts"),
        ("INBOX_DIR", "inbox"),
    ):
        os.environ[f"WARDPROG_{key}"] = str(workdir / sub)


def bare_flow_seconds(tasks: int = 200) -> tuple[float, float]:
    """(first run, which starts the local API; second run) of the bare flow."""
    from prefect import flow, task

    @task
    def noop(n: int) -> int:
        return n

    @flow(name="bare-no-op-tasks")
    def bare() -> None:
        for n in range(tasks):
            noop(n)

    times = []
    for _ in range(2):
        t0 = time.perf_counter()
        bare()
        times.append(time.perf_counter() - t0)
    return times[0], times[1]


def same_shape_seconds(subflows: int, tasks: int) -> tuple[float, list[float]]:
    """A bare run of the replay's shape: ``subflows`` child flows sharing ``tasks`` no-ops.

    Returns its wall time and the client's retry waits during it: the local API refuses a
    bare subflow's start as it refuses the replay's (the same 503s), so part of Prefect's floor
    for this shape is those waits.
    """
    from prefect import flow, task

    from wardprog.demo.replay import in_process_runs

    @task
    def noop(n: int) -> int:
        return n

    @flow(name="bare-child")
    def child(first: int, count: int) -> None:
        for n in range(first, first + count):
            noop(n)

    @flow(name="bare-same-shape")
    def parent() -> None:
        per, extra = divmod(tasks, max(subflows, 1))
        first = 0
        for i in range(subflows):
            count = per + (1 if i < extra else 0)
            child(first, count)
            first += count

    with RetryWaits() as retries, in_process_runs():
        t0 = time.perf_counter()
        parent()
        return time.perf_counter() - t0, retries.waits


class RetryWaits(logging.Handler):
    """Counts the Prefect client's waits before retrying a request the API refused (a 503).

    The client logs each at DEBUG ("Another attempt will be made in 2s"): how much of a run is
    spent waiting on the local API's SQLite rather than working.
    """

    WAIT = re.compile(r"Another attempt will be made in ([0-9.]+)s")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.waits: list[float] = []

    def emit(self, record: logging.LogRecord) -> None:
        if match := self.WAIT.search(record.getMessage()):
            self.waits.append(float(match.group(1)))

    def __enter__(self) -> RetryWaits:
        # DEBUG for this handler only: the client's records stop at it, not at the console.
        client = logging.getLogger("prefect.client")
        self._saved = client.level, client.propagate
        client.setLevel(logging.DEBUG)
        client.propagate = False
        client.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        client = logging.getLogger("prefect.client")
        client.removeHandler(self)
        client.level, client.propagate = self._saved


def replay_seconds(start: date, end: date) -> tuple[float, list[float]]:
    """The replay's wall time and the client's retry waits during it."""
    from wardprog.demo.replay import replay_programme

    with RetryWaits() as retries:
        t0 = time.perf_counter()
        replay_programme(start, end)
        return time.perf_counter() - t0, retries.waits


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--end", type=date.fromisoformat, default=END)
    parser.add_argument("--register", type=Path, help="ward register CSV (default: demo trust)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="wardprog-replay-") as tmp:
        workdir = Path(tmp)
        point_at(workdir)
        from wardprog import config
        from wardprog.demo.runner import prepare_demo

        config.get_settings.cache_clear()
        settings = config.get_settings()
        t0 = time.perf_counter()
        prepare_demo(settings, START, args.end, args.register)
        prepare_s = time.perf_counter() - t0
        cold_s, bare_s = bare_flow_seconds()
        replay_s, waits = replay_seconds(START, args.end)
        complete = _complete_wards(settings.database_url)
        breakdown = flow_run_breakdown()
        subflows = sum(r[2] for r in breakdown if r[1] == "flow" and r[0] != "run-programme")
        # Each subflow also has a tracking task run in its parent; those are not tasks of ours.
        tasks = sum(r[2] for r in breakdown if r[1] == "task") - subflows
        shape_s, shape_waits = same_shape_seconds(subflows, tasks)
    print(f"prepare (register, staff, extracts): {prepare_s:7.1f} s")
    print(f"bare flow, 200 no-op tasks, first run: {cold_s:6.1f} s (starts the local API)")
    print(f"bare flow, 200 no-op tasks:           {bare_s:7.1f} s")
    print(f"run-programme replay {START} to {args.end}: {replay_s:7.1f} s ({complete})")
    print(f"  of which waiting to retry a refused call: {sum(waits):5.1f} s ({len(waits)} waits)")
    print(f"ratio replay / bare:                  {replay_s / bare_s:7.1f} x   (goal <= 5 x)")
    print(f"ratio replay / bare first run:        {replay_s / cold_s:7.1f} x")
    print(f"bare run of the replay's shape ({subflows} subflows, {tasks} tasks): {shape_s:6.1f} s")
    print(f"  of which waiting to retry a refused call: {sum(shape_waits):5.1f} s "
          f"({len(shape_waits)} waits)")  # fmt: skip
    print(f"ratio replay / same shape:            {replay_s / shape_s:7.1f} x")
    print(f"peak RSS of this process:             {peak_rss_mb():7.0f} MB")
    print("\nflow and task runs inside the replay (from the Prefect API):")
    print(f"{'name':<32} {'kind':<5} {'runs':>5} {'total s':>8} {'mean ms':>8}")
    for name, kind, runs, total in breakdown:
        print(f"{name:<32} {kind:<5} {runs:>5} {total:>8.1f} {1000 * total / runs:>8.0f}")


def flow_run_breakdown() -> list[tuple[str, str, int, float]]:
    """(name, flow|task, runs, total seconds) of every run but the bare flows, slowest first."""
    from prefect.client.orchestration import get_client

    # The local API records task runs in batches flushed every 5 s (prefect_env.SERVER_TUNING):
    # wait for the last flush so the replay's final task runs are counted.
    time.sleep(6)
    totals: dict[tuple[str, str], list[float]] = {}
    with get_client(sync_client=True) as client:
        names = {f.id: f.name for f in client.read_flows(limit=200)}
        offset = 0
        while page := client.read_flow_runs(offset=offset, limit=200):
            for run in page:
                name = names.get(run.flow_id, "?")
                if not name.startswith("bare-"):
                    totals.setdefault((name, "flow"), []).append(_seconds(run))
            offset += len(page)
        offset = 0
        while tasks := client.read_task_runs(offset=offset, limit=200):
            for task_run in tasks:
                name = task_run.task_key.rsplit("-", 1)[0]  # the task function's name
                if name != "noop":
                    totals.setdefault((name, "task"), []).append(_seconds(task_run))
            offset += len(tasks)
    rows = [(n, k, len(v), sum(v)) for (n, k), v in totals.items()]
    return sorted(rows, key=lambda r: -r[3])


def _seconds(run: object) -> float:
    start, end = getattr(run, "start_time", None), getattr(run, "end_time", None)
    return (end - start).total_seconds() if start and end else 0.0


def _complete_wards(url: str) -> str:
    from sqlmodel import Session, func, select

    from wardprog.db import get_engine
    from wardprog.models import Stage, WardEnrolment

    with Session(get_engine(url)) as session:
        total = session.exec(select(func.count()).select_from(WardEnrolment)).one()
        done = session.exec(
            select(func.count())
            .select_from(WardEnrolment)
            .where(WardEnrolment.stage == Stage.complete)
        ).one()
    return f"{done} of {total} wards complete"


if __name__ == "__main__":
    main()
