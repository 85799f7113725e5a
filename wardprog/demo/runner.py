"""The demo trust end to end: 60 wards on 3 sites, staff, three years of data, four waves."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dateutil.relativedelta import relativedelta
from sqlmodel import select

from wardprog import clock
from wardprog.config import Settings
from wardprog.db import get_engine, session_scope
from wardprog.demo.team import import_demo_owners, register_demo_team, write_owners_for
from wardprog.migrate import upgrade
from wardprog.models import Site, Ward
from wardprog.rules.planner import PlannedWave
from wardprog.services.installation import require_demo
from wardprog.services.programme import ensure_programme, rollout_plan
from wardprog.services.register import (
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    demo_register_path,
    import_register,
)


def prepare_demo(settings: Settings, start: date, end: date, register: Path | None = None) -> None:
    """Schema, register, staff extract and diagnostic extracts; every step idempotent."""
    upgrade(settings.database_url)
    # The demo trust is set up on the replay's first day, on the engine's clock like the rest.
    with clock.simulated(clock.day_start(start, settings.timezone)):
        _prepare(settings, start, end, register)


def _prepare(settings: Settings, start: date, end: date, register: Path | None) -> None:
    from wardprog.demo.staff import write_staff_extract
    from wardprog.services.staff_register import import_staff
    from wardprog.sources.synthetic import DEMO_EFFECTS, KnownEffects, generate_extracts

    engine = get_engine(settings.database_url)
    with session_scope(engine) as session:
        # Before anything is written: a real deployment's database is refused here.
        require_demo(session, settings.database_url)
    with session_scope(engine) as session:
        import_register(session, register or demo_register_path())
        register_demo_team(session)
        rows = session.exec(
            select(Ward, Site).where(Ward.site_id == Site.id).order_by(Ward.code)
        ).all()
        wards = [(w.code, s.code, w.beds) for w, s in rows]
        managers = [(w.code, w.manager_name) for w, _ in rows]
        specialties = [(s.code, w.specialty) for w, s in rows]
        ward_specialties = [(w.code, w.specialty) for w, _ in rows]
    # The demo trust's named owners; a benchmark register gets owners made for its wards.
    owners = None
    if register is not None:
        owners = write_owners_for(specialties, settings.var_dir / "demo" / "owners.csv")
    import_demo_owners(engine, start, owners)
    staff_file = settings.var_dir / "demo" / "staff.csv"
    staff_file.parent.mkdir(parents=True, exist_ok=True)
    write_staff_extract(managers, staff_file)
    with session_scope(engine) as session:
        import_staff(session, staff_file)
    with session_scope(engine) as session:
        programme = ensure_programme(session, settings, start)
        effect_starts = demo_effect_starts(rollout_plan(session, programme))
    # Three years of monthly history up to the end of the replay, with a known programme effect
    # on some metrics (none on the others) for the board report's evaluation to find.
    generate_extracts(
        wards,
        settings.extracts_dir,
        end - relativedelta(years=3),
        end,
        effects=KnownEffects(DEMO_EFFECTS, effect_starts),
        specialties={code: specialty for code, specialty in ward_specialties},
    )


def demo_effect_starts(plan: list[PlannedWave]) -> dict[str, date]:
    """When the demo's wards improve: from the wave's third month, by when every ward in it
    has had its engagement event (events fall 2-6 weeks into the wave)."""
    return {
        code: wave.quarter_start.replace(day=1) + relativedelta(months=2)
        for wave in plan
        for code in wave.ward_codes
    }


def run_demo(start: date, end: date) -> None:
    """Replay the programme with simulated staff, on the demo's database only.

    The `run-programme` replay (simulated ward staff between flow runs), then the dashboard.
    """
    from flows.report import programme_report
    from wardprog.config import get_settings
    from wardprog.demo.replay import in_process_runs, replay_programme

    settings = get_settings()
    with session_scope(get_engine(settings.database_url)) as session:
        require_demo(session, settings.database_url)

    replay_programme(start, end)
    with in_process_runs():
        programme_report(as_of=end)


def write_register(path: Path, wards_per_site: int, sites: int = 3) -> Path:
    """A register of any size for benchmarks: ``sites`` sites of ``wards_per_site`` wards."""
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS])
        for s in range(sites):
            for w in range(wards_per_site):
                code = f"S{s + 1}-W{w + 1:03d}"
                writer.writerow(
                    [
                        f"S{s + 1}",
                        f"Site {s + 1}",
                        code,
                        f"Ward {code}",
                        "General medicine",
                        20 + (w % 4) * 4,
                        f"Manager {code}",
                        f"manager.{code.lower()}@nhs.example",
                        "",
                    ]
                )
    return path
