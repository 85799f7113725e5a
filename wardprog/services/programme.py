"""Programme and wave lifecycle: plan the rollout, open the wave due on a date, enrol its wards."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import case, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from wardprog.config import IMPROVEMENT_TEAM_TAG, LONDON, Settings
from wardprog.errors import ConflictError, NotFoundError, WardprogError
from wardprog.models import Programme, Site, Stage, Ward, WardEnrolment, Wave, WaveStatus
from wardprog.notify.outbox import enqueue
from wardprog.rules.planner import (
    PlannedWave,
    PlannerWard,
    plan_rollout,
    wave_bounds,
    wave_number_on,
)
from wardprog.services.context import require_id

DEFAULT_PROGRAMME = "Ward improvement programme"


def on_day(as_of: date, hour: int = 9) -> datetime:
    """A timestamp on the simulated clock: stages record *when in the programme* they happened."""
    return datetime.combine(as_of, time(hour), LONDON)


def programme_or_draft(
    session: Session, settings: Settings, start_date: date, name: str = DEFAULT_PROGRAMME
) -> Programme:
    """The programme called ``name``, or an unsaved one starting ``start_date`` on the settings'
    wave sizes (what a plan is drawn from before the programme exists)."""
    programme = session.exec(select(Programme).where(Programme.name == name)).first()
    if programme is None:
        programme = Programme(
            name=name,
            start_date=start_date,
            wave_length_months=settings.wave_length_months,
            wards_per_site_per_wave=settings.wards_per_site_per_wave,
        )
    return programme


def ensure_programme(
    session: Session, settings: Settings, start_date: date, name: str = DEFAULT_PROGRAMME
) -> Programme:
    programme = programme_or_draft(session, settings, start_date, name)
    if programme.id is None:
        session.add(programme)
        session.flush()
    return programme


def start_programme(
    session: Session, settings: Settings, start_date: date | None, name: str = DEFAULT_PROGRAMME
) -> tuple[Programme, bool]:
    """Create the programme starting ``start_date``, or confirm the one that exists.

    Returns the programme and whether it was created. A different start for an existing
    programme is refused rather than ignored: waves, events and cohorts hang off that date.
    """
    existing = session.exec(select(Programme).where(Programme.name == name)).first()
    if existing is not None:
        if start_date is not None and start_date != existing.start_date:
            raise ConflictError(
                f"--start {start_date}: the programme already starts {existing.start_date} "
                f"and its start cannot move once created"
            )
        return existing, False
    if start_date is None:
        raise NotFoundError("no programme yet: give its first day with --start YYYY-MM-DD")
    return ensure_programme(session, settings, start_date, name), True


def check_launch_date(session: Session, as_of: date, name: str = DEFAULT_PROGRAMME) -> Programme:
    """The programme a launch on ``as_of`` would use; refused before it starts or if missing."""
    programme = get_programme(session, name)
    if wave_number_on(programme.start_date, as_of, programme.wave_length_months) is None:
        raise ConflictError(
            f"--as-of {as_of} is before the programme starts ({programme.start_date}); "
            f"nothing to launch"
        )
    return programme


def horizon_warning(plan: list[PlannedWave], start_date: date, years: int) -> str | None:
    """A warning when the planned rollout ends more than ``years`` after the programme starts."""
    if not plan:
        return None
    last = plan[-1]
    try:
        horizon = start_date.replace(year=start_date.year + years)
    except ValueError:  # 29 February
        horizon = start_date.replace(year=start_date.year + years, day=28)
    if last.quarter_end <= horizon:
        return None
    return (
        f"the rollout needs {len(plan)} waves and runs to {last.quarter_end}, past the "
        f"{years}-year horizon ({horizon}); check the register and "
        f"WARDPROG_WARDS_PER_SITE_PER_WAVE (or raise WARDPROG_ROLLOUT_HORIZON_YEARS)"
    )


def get_programme(session: Session, name: str = DEFAULT_PROGRAMME) -> Programme:
    programme = session.exec(select(Programme).where(Programme.name == name)).first()
    if programme is None:
        raise NotFoundError(
            f"no programme named {name!r}: create it with "
            f"`wardprog start-programme --start DATE` (or `wardprog demo`)"
        )
    return programme


def _planner_wards(session: Session, exclude_ids: set[int]) -> list[PlannerWard]:
    from wardprog.models import WardDeferral

    rows = session.exec(
        select(Ward, Site).where(Ward.site_id == Site.id).order_by(col(Ward.id))
    ).all()
    # A deferred ward goes first in its site's next wave (ahead of any priority set).
    deferred = set(session.exec(select(WardDeferral.ward_id)).all())
    return [
        PlannerWard(code=w.code, site_code=s.code, priority=-1 if w.id in deferred else w.priority)
        for w, s in rows
        if w.id not in exclude_ids
    ]


def rollout_plan(session: Session, programme: Programme) -> list[PlannedWave]:
    """The whole rollout: waves already opened as they are, the remaining wards planned after."""
    waves = session.exec(
        select(Wave).where(Wave.programme_id == programme.id).order_by(col(Wave.number))
    ).all()
    enrolled = session.exec(
        select(WardEnrolment, Ward).where(WardEnrolment.ward_id == Ward.id)
    ).all()
    by_wave: dict[int, list[str]] = {}
    for enr, ward in enrolled:
        by_wave.setdefault(enr.wave_id, []).append(ward.code)
    plan = [
        PlannedWave(
            w.number, w.quarter_start, w.quarter_end, tuple(sorted(by_wave.get(require_id(w), [])))
        )
        for w in waves
    ]
    remaining = _planner_wards(session, {e.ward_id for e, _ in enrolled})
    if remaining:
        later = plan_rollout(
            remaining,
            programme.start_date,
            programme.wards_per_site_per_wave,
            programme.wave_length_months,
        )
        offset = len(plan)
        for pw in later:
            start, end = wave_bounds(
                programme.start_date, pw.number + offset, programme.wave_length_months
            )
            plan.append(PlannedWave(pw.number + offset, start, end, pw.ward_codes))
    return plan


@dataclass(frozen=True)
class OpenedWave:
    wave_id: int
    number: int
    created: bool
    enrolment_ids: tuple[int, ...]


def open_wave(
    session: Session, settings: Settings, programme: Programme, as_of: date
) -> OpenedWave | None:
    """Create the wave due on ``as_of`` and enrol its wards; None when no ward is left to enrol.

    Idempotent and safe under concurrency: two launches for the same quarter race on the
    (programme, number) unique constraint and the loser adopts the winner's wave.
    """
    number = wave_number_on(programme.start_date, as_of, programme.wave_length_months)
    if number is None:
        raise WardprogError(
            f"{as_of} is before the programme starts ({programme.start_date}); nothing to launch"
        )
    wave = _find_wave(session, programme, number)
    created = False
    if wave is None:
        enrolled_ids = set(session.exec(select(WardEnrolment.ward_id)).all())
        remaining = _planner_wards(session, enrolled_ids)
        if not remaining:
            return None
        first = plan_rollout(
            remaining,
            programme.start_date,
            programme.wards_per_site_per_wave,
            programme.wave_length_months,
        )[0]
        start, end = wave_bounds(programme.start_date, number, programme.wave_length_months)
        try:
            with session.begin_nested():
                wave = Wave(
                    programme_id=require_id(programme),
                    number=number,
                    quarter_start=start,
                    quarter_end=end,
                    status=WaveStatus.launched,
                    launched_at=on_day(as_of),
                )
                session.add(wave)
                session.flush()
                wards = session.exec(select(Ward).where(Ward.code.in_(first.ward_codes))).all()  # type: ignore[attr-defined]
                for ward in sorted(wards, key=lambda w: first.ward_codes.index(w.code)):
                    session.add(WardEnrolment(ward_id=require_id(ward), wave_id=require_id(wave)))
                session.flush()
            created = True
        except IntegrityError:
            # Another launch for this quarter won the race; use its wave.
            wave = _find_wave(session, programme, number)
            if wave is None:
                raise
    enrolments = session.exec(
        select(WardEnrolment)
        .where(WardEnrolment.wave_id == wave.id)
        .order_by(col(WardEnrolment.id))
    ).all()
    if created:
        _announce_wave(session, wave, as_of)
    return OpenedWave(
        require_id(wave),
        wave.number,
        created,
        tuple(e.id for e in enrolments if e.id is not None),
    )


def _find_wave(session: Session, programme: Programme, number: int) -> Wave | None:
    return session.exec(
        select(Wave).where(Wave.programme_id == programme.id, Wave.number == number)
    ).first()


def wave_wards(session: Session, wave_id: int) -> list[tuple[WardEnrolment, Ward, Site]]:
    rows = session.exec(
        select(WardEnrolment, Ward, Site)
        .where(WardEnrolment.wave_id == wave_id, WardEnrolment.ward_id == Ward.id)
        .where(Ward.site_id == Site.id)
        .order_by(col(WardEnrolment.id))
    ).all()
    return list(rows)


def _announce_wave(session: Session, wave: Wave, as_of: date) -> None:
    """Tell the improvement team the whole wave, and each ward manager their own ward only."""
    rows = wave_wards(session, require_id(wave))
    wards = [
        {"code": w.code, "name": w.name, "site": s.name, "manager_name": w.manager_name}
        for _, w, s in rows
    ]
    base = {
        "wave_number": wave.number,
        "quarter_start": wave.quarter_start,
        "quarter_end": wave.quarter_end,
        "as_of": as_of,
    }
    enqueue(
        session,
        key=f"wave_launch:wave-{wave.number}:team",
        kind="wave_launch",
        tags=[IMPROVEMENT_TEAM_TAG],
        context={**base, "wards": wards},
    )
    for (_, ward, _), info in zip(rows, wards, strict=True):
        enqueue(
            session,
            key=f"wave_launch:{ward.code}:wave-{wave.number}",
            kind="wave_launch",
            tags=[ward.code],
            ward_code=ward.code,
            recipients=[ward.manager_email],
            context={**base, "wards": [info]},
        )


def refresh_wave_status(session: Session, wave_id: int, as_of: date) -> Wave:
    wave = session.get(Wave, wave_id)
    if wave is None:
        raise NotFoundError(f"wave id {wave_id} does not exist")
    # Counted in SQL: each ward finishing its last stage asks, and reading every ward's stage
    # made a wave of n wards read n x n rows (9 million for a 3,000-ward wave).
    wards, unfinished = session.exec(
        select(
            func.count(),
            func.coalesce(
                func.sum(case((col(WardEnrolment.stage) != Stage.complete, 1), else_=0)), 0
            ),
        ).where(WardEnrolment.wave_id == wave_id)
    ).one()
    if wards and not unfinished and wave.status != WaveStatus.complete:
        wave.status = WaveStatus.complete
        wave.completed_at = on_day(as_of, 17)
        session.add(wave)
    return wave
