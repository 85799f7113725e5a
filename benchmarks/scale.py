"""How the programme's cost per ward grows: 60, 600 and 12,000 wards on PostgreSQL.

Every size runs the same programme shape and calendar - 5 wards per site per wave, four quarterly
waves from 2 January 2026 (20 wards per site), the follow-up advance seven weeks after each
launch - so what grows is the number of sites (3, 30, 300: a trust, a region, a nation), not the
years replayed or the wards per site (a site's engagement slots cap that). Each size gets its
own scratch PostgreSQL database (dropped after, also on Ctrl-C/SIGTERM) and a temporary folder
for extracts, inboxes and the outbox.

Two modes, to see where time goes:

- ``--mode services`` (default sizes 60, 600; 12000 with ``--sizes``): the stage services
  driven directly, in one process, no Prefect - ``open_wave`` on each launch day,
  ``run_stage`` ward by ward and stage by stage exactly as the flow does (simulated ward
  staff), QSIR attendance, and the outbox delivered with ``dispatch_pending`` after every tick.
  (Diagnostic re-checks, reminders and digests are left to ``flows`` mode.)
- ``--mode flows`` (default sizes 60, 120; ~3 s per ward): the real ``run_programme`` flow
  (every stage a Prefect task, artifacts, re-checks, reminders, digests) against a throw-away
  local Prefect API; the difference from ``services`` is Prefect's orchestration overhead plus the
  flows' extra work (re-checks, reminders, digests and their notifications).

Usage::

    .venv/bin/python benchmarks/scale.py                       # services: 60, 600 (~5 min)
    .venv/bin/python benchmarks/scale.py --sizes 60 600 12000  # 12,000: hours on 2 busy cores
    .venv/bin/python benchmarks/scale.py --mode flows          # flows: 60, 120 (~10 min)
    .venv/bin/python benchmarks/scale.py --sizes 60 600 --admin-url postgresql+psycopg://...

Prints one row per size: wards, waves, seconds per phase, milliseconds per ward, rows written,
peak RSS; then ms and SQL statements per ward in each stage (an engine ``before_cursor_execute``
listener). The simulated ward staff between runs (``staff s``) are timed apart and not counted
in ms/ward: they stand for people, not services. Progress per tick goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
from wardprog.prefect_env import tune_local_server  # noqa: E402

tune_local_server()  # as the wardprog command runs its local API
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import sqlalchemy as sa  # noqa: E402

from wardprog import config, db  # noqa: E402

START, END = date(2026, 1, 2), date(2026, 12, 31)
WAVES = 4
# ``--statements STAGE``: list that stage's SQL statements by frequency after a services run.
RECORD_STAGE: str | None = None
WARDS_PER_SITE = 20  # 5 per site per wave (the programme's shape) x 4 waves
ADMIN_URL = os.environ.get(
    "WARDPROG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True)
class Result:
    wards: int
    waves: int
    prepare_s: float
    # The simulated ward staff between runs (templates returned, registers kept): not services.
    staff_s: float
    stages_s: float
    dispatch_s: float
    rows: int
    notifications: int
    complete: int
    # Seconds inside each stage service (services mode), to show where per-ward time goes.
    by_stage: dict[str, float]
    # SQL statements each stage service sent (services mode), counted by an engine listener.
    statements: dict[str, int]
    peak_rss_mb: float

    @property
    def programme_s(self) -> float:
        return self.stages_s + self.dispatch_s


@contextlib.contextmanager
def scratch_database(admin_url: str, wards: int) -> Iterator[str]:
    name = f"wardprog_bench_{wards}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        engine = db._engines.pop(db.normalise_url(url), None)
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settings_for(url: str, workdir: Path) -> config.Settings:
    """Point WARDPROG_* at this size's database and folders (flows read settings from env)."""
    os.environ.update(
        WARDPROG_DATABASE_URL=url,
        WARDPROG_VAR_DIR=str(workdir / "var"),
        WARDPROG_OUTPUT_DIR=str(workdir / "out"),
        WARDPROG_EXTRACTS_DIR=str(workdir / "extracts"),
        WARDPROG_INBOX_DIR=str(workdir / "inbox"),
        WARDPROG_WARDS_PER_SITE_PER_WAVE=str(WARDS_PER_SITE // WAVES),
    )
    os.environ.pop("WARDPROG_NOTIFY_CONFIG", None)
    config.get_settings.cache_clear()
    return config.get_settings()


def grow_improvement_team(url: str, sites: int) -> None:
    """One facilitator per site, as the demo trust has (three for three sites).

    The facilitators are one central team travelling between sites; a programme over 300 sites
    with the demo's three would run out of facilitator-hours in the engagement window long
    before it ran out of rooms, and the benchmark would measure scheduling failures.
    ``prepare_demo`` registers the demo's three (and rooms on every site); this adds the rest.
    """
    from wardprog.demo.team import DEMO_FACILITATORS
    from wardprog.services.venues import register_facilitator

    with db.session_scope(db.get_engine(url)) as session:
        for n in range(len(DEMO_FACILITATORS), sites):
            register_facilitator(session, f"QI Facilitator {n + 1}", f"qi.{n + 1}@trust.example")


def end_of_day(as_of: date) -> datetime:
    return datetime.combine(as_of, dtime(23, 59, 59), tzinfo=UTC)


class StatementCounter:
    """Counts SQL statements sent on an engine (SQLAlchemy ``before_cursor_execute``)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.count = 0
        # With ``--statements STAGE``: each statement's text while that stage runs, to see which
        # reads repeat (printed after the run, most frequent first).
        self.recording = False
        self.texts: Counter[str] = Counter()
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: object, _cursor: object, statement: str, *_args: object) -> None:
        self.count += 1
        if self.recording:
            self.texts[" ".join(statement.split())[:160]] += 1


def warm_imports() -> None:
    """Import what the stages import lazily, so a process's one-off start is not billed per ward.

    At 60 wards the first stage call would otherwise carry about a second of imports (pandas
    plotting, openpyxl, icalendar, apprise plugins), which is start-up, not cost per ward.
    """
    import wardprog.notify.dispatch
    import wardprog.reports.diagnostic_pack
    import wardprog.services.diagnostics
    import wardprog.services.engagement
    import wardprog.services.qsir
    import wardprog.services.triage
    import wardprog.services.triage.template  # noqa: F401


def run_services(
    settings: config.Settings,
) -> tuple[float, float, float, dict[str, float], dict[str, int]]:
    """The programme through the services alone: (staff, stages, dispatch) s, stage split."""
    from sqlmodel import Session, col, select

    from wardprog.demo.replay import programme_ticks
    from wardprog.demo.simulate import return_templates
    from wardprog.demo.staff import simulate_attendance
    from wardprog.models import Stage, Wave, WaveStatus
    from wardprog.notify.dispatch import dispatch_pending
    from wardprog.services.enrolment import WORK_STAGES, after_stage, before_stage, run_stage
    from wardprog.services.programme import get_programme, open_wave, wave_wards

    warm_imports()
    engine = db.get_engine(settings.database_url)
    counter = StatementCounter(engine)
    staff_s = stages_s = dispatch_s = 0.0
    by_stage: dict[str, float] = {stage.value: 0.0 for stage in WORK_STAGES}
    statements: dict[str, int] = {stage.value: 0 for stage in WORK_STAGES}
    statements["dispatch"] = 0

    @contextlib.contextmanager
    def counted_to(stage: Stage) -> Iterator[None]:
        """The block's time and SQL statements, counted to ``stage``."""
        s0, c0 = time.perf_counter(), counter.count
        counter.recording = stage.value == RECORD_STAGE
        try:
            yield
        finally:
            counter.recording = False
            by_stage[stage.value] += time.perf_counter() - s0
            statements[stage.value] += counter.count - c0

    for as_of, action in programme_ticks(START, END):
        s0 = time.perf_counter()
        with db.session_scope(engine) as session:
            return_templates(session, settings, as_of)  # simulated ward staff, between runs
        t0 = time.perf_counter()
        staff_s += t0 - s0
        if action == "launch":
            with db.session_scope(engine) as session:
                open_wave(session, settings, get_programme(session), as_of)
        with Session(engine) as session:
            programme = get_programme(session)
            wave_ids = session.exec(
                select(Wave.id)
                .where(Wave.programme_id == programme.id, Wave.status == WaveStatus.launched)
                .order_by(col(Wave.number))
            ).all()
            wards = {
                wave_id: [e.id for e, _, _ in wave_wards(session, wave_id)]
                for wave_id in wave_ids
                if wave_id is not None
            }
        for wave_id, enrolment_ids in wards.items():
            blocked: set[int] = set()
            # Stage by stage across the wave, with its deciding and shared steps, as
            # `advance_wave_wards` does.
            for stage in WORK_STAGES:
                with counted_to(stage):
                    plans = before_stage(
                        engine,
                        settings,
                        stage,
                        as_of,
                        [e for e in enrolment_ids if e is not None and e not in blocked],
                    )
                for enrolment_id in enrolment_ids:
                    if enrolment_id in blocked or enrolment_id is None:
                        continue
                    with counted_to(stage):
                        plan = plans.get(enrolment_id)
                        outcome = run_stage(engine, settings, enrolment_id, stage, as_of, plan)
                    if not outcome.done:
                        blocked.add(enrolment_id)
                with counted_to(stage):
                    after_stage(engine, settings, stage, as_of, wave_id)
        a0 = time.perf_counter()
        with db.session_scope(engine) as session:
            simulate_attendance(session, as_of)  # simulated: nominees attend their sessions
        t1, c1 = time.perf_counter(), counter.count
        staff_s += t1 - a0
        dispatch_pending(engine, settings, now=end_of_day(as_of), limit=1_000_000)
        t2 = time.perf_counter()
        statements["dispatch"] += counter.count - c1
        stages_s += a0 - t0
        dispatch_s += t2 - t1
        # Progress on stderr, so a long size (12,000 wards) reports how far it got if stopped.
        print(
            f"  {as_of} {action:>8}: stages {stages_s:8.1f} s, dispatch {dispatch_s:7.1f} s, "
            f"staff {staff_s:7.1f} s, {counter.count:>10} statements, peak "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:6.0f} MB",
            file=sys.stderr,
            flush=True,
        )
    if RECORD_STAGE:
        print(f"\n{RECORD_STAGE}: statements by text, most frequent first", file=sys.stderr)
        for text, n in counter.texts.most_common(40):
            print(f"{n:>8}  {text}", file=sys.stderr)
    return staff_s, stages_s, dispatch_s, by_stage, statements


def run_flows(
    settings: config.Settings,
) -> tuple[float, float, float, dict[str, float], dict[str, int]]:
    """The demo's `run-programme` flow; dispatch happens inside it, so it is counted in stages."""
    from wardprog.demo.replay import replay_programme

    t0 = time.perf_counter()
    replay_programme(START, END)
    return 0.0, time.perf_counter() - t0, 0.0, {}, {}


def measure(wards: int, mode: str, admin_url: str) -> Result:
    from sqlmodel import Session, select

    from wardprog.demo.runner import prepare_demo, write_register
    from wardprog.models import Stage, WardEnrolment, Wave
    from wardprog.status import table_counts

    with (
        tempfile.TemporaryDirectory(prefix=f"wardprog-scale-{wards}-") as tmp,
        scratch_database(admin_url, wards) as url,
    ):
        workdir = Path(tmp)
        settings = settings_for(url, workdir)
        register = write_register(
            workdir / "wards.csv", wards_per_site=WARDS_PER_SITE, sites=wards // WARDS_PER_SITE
        )
        t0 = time.perf_counter()
        # Preparing 12,000 wards (register, plan, three years of extracts) takes many minutes:
        # say so on stderr, with memory, so a stopped run shows how far it got.
        print(
            f"  {wards} wards: preparing (register, plan, extracts)...", file=sys.stderr, flush=True
        )
        prepare_demo(settings, START, END, register)
        grow_improvement_team(url, sites=wards // WARDS_PER_SITE)
        prepare_s = time.perf_counter() - t0
        print(
            f"  {wards} wards: prepared in {prepare_s:.1f} s, peak "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
            file=sys.stderr,
            flush=True,
        )
        staff_s, stages_s, dispatch_s, by_stage, statements = (
            run_services if mode == "services" else run_flows
        )(settings)
        with Session(db.get_engine(url)) as session:
            counts = table_counts(session)
            complete = len(
                session.exec(
                    select(WardEnrolment).where(WardEnrolment.stage == Stage.complete)
                ).all()
            )
            waves = len(session.exec(select(Wave)).all())
    return Result(
        wards=wards,
        waves=waves,
        prepare_s=prepare_s,
        staff_s=staff_s,
        stages_s=stages_s,
        dispatch_s=dispatch_s,
        rows=sum(counts.values()),
        notifications=counts.get("notification", 0),
        complete=complete,
        by_stage=by_stage,
        statements=statements,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )


HEADER = (
    f"{'wards':>6} {'waves':>5} {'complete':>8} {'prepare s':>9} {'staff s':>8} {'stages s':>9} "
    f"{'dispatch s':>10} {'total s':>8} {'ms/ward':>8} {'rows':>9} {'notes':>7} {'peak MB':>7}"
)


def row(r: Result) -> str:
    total = r.prepare_s + r.staff_s + r.programme_s
    return (
        f"{r.wards:>6} {r.waves:>5} {r.complete:>8} {r.prepare_s:>9.1f} {r.staff_s:>8.1f} "
        f"{r.stages_s:>9.1f} "
        f"{r.dispatch_s:>10.1f} {total:>8.1f} {1000 * r.programme_s / r.wards:>8.1f} "
        f"{r.rows:>9} {r.notifications:>7} {r.peak_rss_mb:>7.0f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["services", "flows"], default="services")
    parser.add_argument("--sizes", type=int, nargs="+", help="ward counts (multiples of 20)")
    parser.add_argument("--admin-url", default=ADMIN_URL, help="PostgreSQL to create DBs on")
    parser.add_argument(
        "--statements",
        metavar="STAGE",
        help="services mode: list this stage's SQL statements by frequency (stderr)",
    )
    args = parser.parse_args(argv)
    global RECORD_STAGE
    RECORD_STAGE = args.statements
    # SIGTERM (timeout, CI cancel) unwinds like Ctrl-C, so scratch databases are dropped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    # Defaults finish in well under 15 minutes on two cores; 6,000 wards is an explicit choice.
    sizes = args.sizes or ([60, 600] if args.mode == "services" else [60, 120])

    harness: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
    if args.mode == "flows":
        from prefect.testing.utilities import prefect_test_harness

        harness = prefect_test_harness(server_startup_timeout=120)
    print(
        f"mode: {args.mode}; {WAVES} quarterly waves from {START}; PostgreSQL; ms/ward = "
        "(stages + dispatch) / wards; staff s = the simulated ward staff, not counted",
        flush=True,
    )
    print(HEADER, flush=True)
    results: list[Result] = []
    with harness:
        for wards in sizes:
            try:
                results.append(measure(wards, args.mode, args.admin_url))
            except Exception as exc:  # a size that breaks is a finding; report it, go on
                reason = (str(exc).strip().splitlines() or [""])[0][:160]
                print(f"{wards:>6} FAILED {type(exc).__name__}: {reason}", flush=True)
                continue
            print(row(results[-1]), flush=True)
    if any(r.by_stage for r in results):
        print("\nms per ward inside each stage service (includes its transaction):")
        stages = list(results[0].by_stage)
        print(f"{'wards':>6} " + " ".join(f"{s:>11}" for s in stages))
        for r in results:
            print(
                f"{r.wards:>6} "
                + " ".join(f"{1000 * r.by_stage[s] / r.wards:>11.1f}" for s in stages)
            )
        print("\nSQL statements per ward in each stage service (engine listener), and dispatch:")
        kinds = list(results[0].statements)
        print(f"{'wards':>6} " + " ".join(f"{s:>11}" for s in kinds))
        for r in results:
            print(f"{r.wards:>6} " + " ".join(f"{r.statements[s] / r.wards:>11.1f}" for s in kinds))


if __name__ == "__main__":
    main()
