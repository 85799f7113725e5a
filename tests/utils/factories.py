"""Tiny factories for tests: real rows in the test database, sensible defaults."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from sqlmodel import Session

from wardprog import clock
from wardprog.config import Settings
from wardprog.demo.team import register_demo_team
from wardprog.models import Programme, Site, Stage, Ward, WardEnrolment, Wave, WaveStatus
from wardprog.models.base import require_id
from wardprog.services.context import StageContext

_seq = itertools.count(1)


def make_site(session: Session, code: str | None = None, name: str | None = None) -> Site:
    n = next(_seq)
    site = Site(code=code or f"S{n}", name=name or f"Site {n}")
    session.add(site)
    session.flush()
    return site


def make_ward(
    session: Session, site: Site | None = None, code: str | None = None, **kw: Any
) -> Ward:
    site = site or make_site(session)
    n = next(_seq)
    code = code or f"{site.code}-W{n:02d}"
    ward = Ward(
        code=code,
        name=kw.pop("name", f"Ward {code}"),
        site_id=require_id(site),
        specialty=kw.pop("specialty", "General medicine"),
        beds=kw.pop("beds", 28),
        manager_name=kw.pop("manager_name", f"Manager {code}"),
        manager_email=kw.pop("manager_email", f"manager.{code.lower()}@trust.example"),
        **kw,
    )
    session.add(ward)
    session.flush()
    return ward


def make_programme(session: Session, start: date = date(2026, 1, 5)) -> Programme:
    prog = Programme(name=f"Programme {next(_seq)}", start_date=start)
    session.add(prog)
    session.flush()
    return prog


def make_wave(
    session: Session,
    programme: Programme | None = None,
    number: int = 1,
    quarter_start: date = date(2026, 1, 5),
    quarter_end: date = date(2026, 3, 31),
) -> Wave:
    programme = programme or make_programme(session, quarter_start)
    wave = Wave(
        programme_id=require_id(programme),
        number=number,
        quarter_start=quarter_start,
        quarter_end=quarter_end,
        status=WaveStatus.launched,
        # Launched on its first day, as the quarterly run would date it (wardprog.clock): the
        # as-of reads (queries) see its wards from then on.
        launched_at=clock.day_start(quarter_start),
    )
    session.add(wave)
    session.flush()
    return wave


def make_enrolment(
    session: Session, ward: Ward, wave: Wave, stage: Stage = Stage.enrolled
) -> WardEnrolment:
    enr = WardEnrolment(ward_id=require_id(ward), wave_id=require_id(wave), stage=stage)
    session.add(enr)
    session.flush()
    return enr


def make_context(
    session: Session,
    settings: Settings,
    as_of: date = date(2026, 1, 5),
    team: bool = True,
    **kw: Any,
) -> StageContext:
    """A ward enrolled in a launched wave, ready for any stage service.

    ``team`` registers rooms and facilitators (the demo's) as a coordinator would before
    booking events; pass False to register your own.
    """
    site = kw.get("site") or make_site(session)
    ward = kw.get("ward") or make_ward(session, site)
    wave = kw.get("wave") or make_wave(session, quarter_start=as_of)
    enrolment = make_enrolment(session, ward, wave)
    if team:
        register_demo_team(session)
    return StageContext(
        session=session,
        settings=settings,
        as_of=as_of,
        ward=ward,
        site=site,
        wave=wave,
        enrolment=enrolment,
    )
