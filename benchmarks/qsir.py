"""QSIR figures: the pure seat allocator, the staff import and a wave's nomination stage.

Usage: `.venv/bin/python benchmarks/qsir.py [--wards 60 600]`. Prints wall times; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def bench_allocator(n_wards: int) -> None:
    from wardprog.rules.cohorts import CohortSeats, SeatRequest, allocate

    rnd = random.Random(1)
    requests = [
        SeatRequest(i, f"W{i % n_wards}", f"S{i % 3}", rnd.randrange(10**7))
        for i in range(n_wards * 2)
    ]
    cohorts = [
        CohortSeats(f"C{i}", date(2026, 1, 14) + timedelta(weeks=13 * i), 24) for i in range(40)
    ]
    started = time.perf_counter()
    result = allocate(requests, cohorts, date(2026, 1, 1))
    took = time.perf_counter() - started
    print(
        f"allocator: {len(requests):>6} requests, {len(cohorts)} cohorts -> "
        f"{len(result.booked)} booked, {len(result.waitlist)} waitlisted in {took * 1000:.1f} ms"
    )


def bench_services(n_wards: int, workdir: Path) -> None:
    from sqlmodel import Session, SQLModel

    import wardprog.models  # noqa: F401
    from wardprog.config import Settings
    from wardprog.db import make_engine
    from wardprog.demo.staff import drop_nomination_return, write_staff_extract
    from wardprog.models import Programme, Site, Ward, WardEnrolment, Wave
    from wardprog.services.context import StageContext, require_id
    from wardprog.services.qsir import run_qsir_stage
    from wardprog.services.staff_register import import_staff

    settings = Settings(
        database_url=f"sqlite:///{workdir / 'bench.db'}", inbox_dir=workdir / "inbox"
    )
    engine = make_engine(settings.database_url)
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        sites = [Site(code=f"S{i}", name=f"Site {i}") for i in range(3)]
        session.add_all(sites)
        session.flush()
        wards = [
            Ward(code=f"S{i % 3}-W{i:04d}", name=f"Ward {i}", site_id=require_id(sites[i % 3]))
            for i in range(n_wards)
        ]
        session.add_all(wards)
        programme = Programme(name="bench", start_date=date(2026, 1, 5))
        session.add(programme)
        session.flush()
        wave = Wave(
            programme_id=require_id(programme),
            number=1,
            quarter_start=date(2026, 1, 5),
            quarter_end=date(2026, 3, 31),
        )
        session.add(wave)
        session.flush()
        extract = write_staff_extract(
            [(w.code, f"Manager {w.code}") for w in wards], workdir / "s.csv"
        )
        started = time.perf_counter()
        count = import_staff(session, extract)
        session.commit()
        print(
            f"staff import: {count} staff for {n_wards} wards "
            f"in {time.perf_counter() - started:.2f} s"
        )

        started = time.perf_counter()
        for ward in wards:
            enrolment = WardEnrolment(ward_id=require_id(ward), wave_id=require_id(wave))
            session.add(enrolment)
            session.flush()
            site = sites[[s.id for s in sites].index(ward.site_id)]
            ctx = StageContext(session, settings, date(2026, 2, 23), ward, site, wave, enrolment)
            drop_nomination_return(ctx)
            run_qsir_stage(ctx)
            session.commit()
        took = time.perf_counter() - started
        print(f"qsir stage: {n_wards} wards in {took:.2f} s ({took / n_wards * 1000:.0f} ms/ward)")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--wards", type=int, nargs="+", default=[60, 600])
    args = parser.parse_args()
    for n in args.wards:
        print(f"--- {n} wards")
        bench_allocator(n)
        with tempfile.TemporaryDirectory() as tmp:
            bench_services(n, Path(tmp))


if __name__ == "__main__":
    main()
