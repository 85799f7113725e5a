"""What the programme looked like on a date: the one read side of wardprog.

`wardprog status`, the dashboard, the improvement team's digest and the flows' Prefect
artifacts all read their figures here, so each figure is computed once and two views of the
same day cannot disagree. Every query takes ``as_of`` and answers *as the programme stood at
the end of that day* (Europe/London), from the dates the engine records on its one clock
(``wardprog.clock``): wards are in a wave from when they were enrolled, a stage is reached on
its recorded date, an item is open from its ``created_at`` until its ``closed_at``, a message
is pending from its ``created_at`` until it was sent. ``as_of=None`` reads the state as stored
now (the flows' artifacts, written by the run that just changed it).

What cannot be read back exactly is said where it is approximated: an item closed and then
reopened counts as open throughout; a nominee's waitlisting and withdrawal carry no date.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, SQLModel, col, select

from wardprog import clock
from wardprog.clock import DEFAULT_TZ
from wardprog.config import Settings
from wardprog.models import (
    STAGE_ORDER,
    DiagnosticSnapshot,
    EngagementEvent,
    EngagementEventChange,
    EventStatus,
    Notification,
    NotificationStatus,
    Site,
    Stage,
    TriageCategory,
    TriageItem,
    TriageStatus,
    Ward,
    WardDeferral,
    WardEnrolment,
    Wave,
    WaveStatus,
)
from wardprog.models.installation import Installation, InstallationKind
from wardprog.rules.slots import to_utc

# The dates a stage records, in the order the stages are reached.
STAGE_COLUMNS: tuple[tuple[Stage, str], ...] = (
    (Stage.diagnostic, "diagnostic_at"),
    (Stage.engagement, "engagement_at"),
    (Stage.triage, "triage_at"),
    (Stage.qsir, "qsir_at"),
    (Stage.complete, "completed_at"),
)


def cutoff(as_of: date, tz: str = DEFAULT_TZ) -> datetime:
    """The first moment after ``as_of`` in ``tz``, aware UTC: "by then" means before it."""
    return datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _by(value: datetime | None, end: datetime | None) -> bool:
    """Whether a recorded moment had happened by ``end`` (``None``: the state as stored)."""
    if value is None:
        return False
    return end is None or to_utc(value) < end


def _day(value: datetime | None, tz: str = DEFAULT_TZ) -> date | None:
    return None if value is None else to_utc(value).astimezone(ZoneInfo(tz)).date()


# --- wards, stages and waves -------------------------------------------------------------------


@dataclass(frozen=True)
class WardStatus:
    """Where one ward is; each date says what happened on it (see ``STATUS_DATES``)."""

    wave_number: int
    site_code: str
    ward_code: str
    ward_name: str
    stage: Stage
    diagnostic: date | None  # the diagnostic pack was ready
    engagement: date | None  # the engagement-event invite went out
    triage: date | None  # the ward's triage template came back
    qsir: date | None  # the ward's QSIR nominations were made
    event: date | None = None  # the day of the engagement event itself

    def dates(self) -> dict[str, date | None]:
        return {label: getattr(self, name) for name, label in STATUS_DATES.items()}

    def as_json(self) -> dict[str, Any]:
        return {
            "wave": self.wave_number,
            "site": self.site_code,
            "ward": self.ward_code,
            "stage": self.stage.value,
            **self.dates(),
        }


# The dates `wardprog status` shows, labelled with what happened on them: the engagement stage
# is done when the invite goes out, weeks before the event, so both are shown.
STATUS_DATES: dict[str, str] = {
    "diagnostic": "pack ready",
    "engagement": "invited",
    "event": "event",
    "triage": "triage in",
    "qsir": "nominated",
}


def stage_as_of(enrolment: WardEnrolment, end: datetime | None) -> Stage:
    """The furthest stage the enrolment had reached by ``end`` (stored stage when ``None``)."""
    if end is None:
        return enrolment.stage
    reached = Stage.enrolled
    for stage, column in STAGE_COLUMNS:
        when = getattr(enrolment, column)
        # A stage the row says is done but carries no date (written before stages were dated,
        # or by hand) counts as done since the ward was enrolled: nothing says otherwise.
        undated = when is None and STAGE_ORDER.index(enrolment.stage) >= STAGE_ORDER.index(stage)
        if not (undated or _by(when, end)):
            break
        reached = stage
    return reached


def _enrolled_by(enrolment: WardEnrolment, wave: Wave, end: datetime | None) -> bool:
    # Wards are enrolled when their wave launches; the earlier of the two survives a database
    # written before the one clock (when created_at took the wall clock).
    first = enrolment.enrolled_at
    if wave.launched_at is not None and to_utc(wave.launched_at) < to_utc(first):
        first = wave.launched_at
    return _by(first, end)


def ward_statuses(
    session: Session, as_of: date | None = None, tz: str = DEFAULT_TZ
) -> list[WardStatus]:
    """Every ward enrolled by ``as_of``, in wave, site and ward order, with its stage then."""
    end = cutoff(as_of, tz) if as_of else None
    rows = session.exec(
        select(WardEnrolment, Ward, Site, Wave)
        .where(WardEnrolment.ward_id == Ward.id, Ward.site_id == Site.id)
        .where(WardEnrolment.wave_id == Wave.id)
    ).all()
    events = _events_then(session, end)
    later = _deferred_later(session, as_of, end)

    def shown(value: datetime | None) -> date | None:
        return _day(value, tz) if value is not None and (end is None or _by(value, end)) else None

    out = []
    for enr, ward, site, wave in rows:
        if ward.id in later or not _enrolled_by(enr, wave, end):
            continue
        out.append(
            WardStatus(
                wave.number,
                site.code,
                ward.code,
                ward.name,
                stage_as_of(enr, end),
                shown(enr.diagnostic_at),
                shown(enr.engagement_at),
                shown(enr.triage_at),
                shown(enr.qsir_at),
                _day(events.get((enr.ward_id, enr.wave_id)), tz),
            )
        )
    if as_of is not None:
        out += [_deferred_status(session, d, as_of) for d in later.values()]
    return sorted(out, key=lambda s: (s.wave_number, s.site_code, s.ward_code))


def _events_then(session: Session, end: datetime | None) -> dict[tuple[int, int], datetime]:
    """Each (ward, wave)'s engagement event start as it stood at ``end``.

    The event row holds only its current time; its change history says what it was before a
    reschedule or cancellation made after ``end``.
    """
    changes: dict[int, list[EngagementEventChange]] = {}
    for change in session.exec(
        select(EngagementEventChange).order_by(
            col(EngagementEventChange.changed_at), col(EngagementEventChange.id)
        )
    ).all():
        changes.setdefault(change.event_id, []).append(change)
    out: dict[tuple[int, int], datetime] = {}
    for ev in session.exec(select(EngagementEvent).order_by(col(EngagementEvent.id))).all():
        if end is not None and not _by(ev.created_at, end):
            continue
        later = [
            c for c in changes.get(ev.id or 0, []) if end is not None and not _by(c.changed_at, end)
        ]
        if later:
            starts, live = later[0].old_starts_at, True
        else:
            starts, live = ev.starts_at, ev.status != EventStatus.cancelled
        if live and starts is not None:
            out[(ev.ward_id, ev.wave_id)] = starts
    return out


def _deferred_later(
    session: Session, as_of: date | None, end: datetime | None
) -> dict[int, WardDeferral]:
    """Wards deferred *after* ``as_of`` whose first wave had launched by then: still in it."""
    if as_of is None:
        return {}
    out: dict[int, WardDeferral] = {}
    for deferral, wave in session.exec(
        select(WardDeferral, Wave).where(WardDeferral.from_wave_id == Wave.id)
    ).all():
        if deferral.deferred_on > as_of and _by(wave.launched_at, end):
            out.setdefault(deferral.ward_id, deferral)
    return out


def _deferred_status(session: Session, deferral: WardDeferral, as_of: date) -> WardStatus:
    """A deferred ward as it stood in the wave it later left: enrolled, its pack if pulled.

    The enrolment row goes when a ward is deferred; its baseline snapshot (kept as history)
    still says whether the diagnostic stage had been reached.
    """
    ward, site = session.exec(
        select(Ward, Site).where(Ward.id == deferral.ward_id, Ward.site_id == Site.id)
    ).one()
    wave = session.get(Wave, deferral.from_wave_id)
    assert wave is not None
    packs = session.exec(
        select(col(DiagnosticSnapshot.as_of)).where(
            DiagnosticSnapshot.ward_id == ward.id,
            DiagnosticSnapshot.wave_id == wave.id,
            DiagnosticSnapshot.kind == "baseline",
            col(DiagnosticSnapshot.as_of) <= as_of,
        )
    ).all()
    ready = min(packs, default=None)
    return WardStatus(
        wave.number,
        site.code,
        ward.code,
        ward.name,
        Stage.diagnostic if ready else Stage.enrolled,
        ready,
        None,
        None,
        None,
    )


def unenrolled_wards(session: Session, as_of: date | None = None, tz: str = DEFAULT_TZ) -> int:
    """Wards in the register not (yet) in any wave by ``as_of``."""
    total = session.exec(select(func.count()).select_from(Ward)).one()
    return int(total) - len(ward_statuses(session, as_of, tz))


def stage_counts(statuses: list[WardStatus]) -> dict[Stage, int]:
    counts = dict.fromkeys(STAGE_ORDER, 0)
    for s in statuses:
        counts[s.stage] += 1
    return counts


def wave_rows(session: Session, as_of: date | None = None, tz: str = DEFAULT_TZ) -> list[dict]:
    """Waves launched by ``as_of``: number, quarter, and launched or complete then."""
    end = cutoff(as_of, tz) if as_of else None
    out = []
    for wave in session.exec(select(Wave).order_by(col(Wave.number))).all():
        if end is None:
            if wave.status == WaveStatus.planned:
                continue
            status = wave.status
        elif wave.status == WaveStatus.planned or (
            wave.launched_at is not None and not _by(wave.launched_at, end)
        ):
            continue  # not launched then (a launched wave without a date: launched throughout)
        else:
            status = WaveStatus.complete if _by(wave.completed_at, end) else WaveStatus.launched
        out.append(
            {
                "wave": wave.number,
                "quarter_start": wave.quarter_start,
                "quarter_end": wave.quarter_end,
                "status": status.value,
                "launched": _day(wave.launched_at, tz),
            }
        )
    return out


def open_wave_ids(session: Session, programme_id: int) -> list[int]:
    """The programme's launched, not yet complete waves, in order: what a daily run advances."""
    return [
        w.id
        for w in session.exec(
            select(Wave)
            .where(Wave.programme_id == programme_id, Wave.status == WaveStatus.launched)
            .order_by(col(Wave.number))
        ).all()
        if w.id is not None
    ]


def wave_ward_rows(session: Session, wave_id: int) -> list[dict[str, Any]]:
    """A wave's wards as its Prefect artifact shows them: stage, each stage ticked, pack."""
    from wardprog.services.enrolment import WORK_STAGES, is_past
    from wardprog.services.programme import wave_wards

    packs: dict[int | None, str | None] = dict(
        session.exec(
            select(DiagnosticSnapshot.ward_id, DiagnosticSnapshot.pack_path).where(
                DiagnosticSnapshot.wave_id == wave_id, DiagnosticSnapshot.kind == "baseline"
            )
        ).all()
    )
    return [
        {
            "ward": w.code,
            "name": w.name,
            "site": s.code,
            "stage": e.stage.value,
            **{st.value: "✔" if is_past(e.stage, st) else "" for st in WORK_STAGES},
            "pack": packs.get(w.id) or "",
        }
        for e, w, s in wave_wards(session, wave_id)
    ]


# --- triage ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemThen:
    """A triage item as it stood on a date."""

    item: TriageItem
    ward_code: str
    open: bool

    @property
    def due(self) -> date | None:
        """When it is due: a change request at its review, anything else by its due date."""
        i = self.item
        return i.review_date if i.category == TriageCategory.change else i.due_date


def items_as_of(
    session: Session, as_of: date | None = None, tz: str = DEFAULT_TZ
) -> list[ItemThen]:
    """Every item raised by ``as_of``, open or closed then, in ward and item order."""
    end = cutoff(as_of, tz) if as_of else None
    rows = session.exec(
        select(TriageItem, Ward.code)
        .where(TriageItem.ward_id == Ward.id)
        .order_by(col(Ward.code), col(TriageItem.id))
    ).all()
    out = []
    for item, code in rows:
        is_open = open_then(item, end)
        if is_open is not None:
            out.append(ItemThen(item, code, is_open))
    return out


def open_then(item: TriageItem, end: datetime | None) -> bool | None:
    """Whether the item was open at ``end`` (None: not raised yet); now when ``end`` is None.

    An item closed and later reopened has no closed_at: open throughout. One closed with no
    date (written by hand) counts as closed since it was raised.
    """
    if end is None:
        return item.status == TriageStatus.open
    if not _by(item.created_at, end):
        return None
    if item.closed_at is None:
        return item.status == TriageStatus.open
    return not _by(item.closed_at, end)


def triage_counts(
    session: Session, as_of: date | None = None, tz: str = DEFAULT_TZ
) -> dict[str, dict[str, int]]:
    """Items by category and status (open, closed) as of ``as_of``."""
    out: dict[str, dict[str, int]] = {}
    for then in items_as_of(session, as_of, tz):
        status = TriageStatus.open if then.open else TriageStatus.closed
        row = out.setdefault(str(then.item.category), {})
        row[str(status)] = row.get(str(status), 0) + 1
    return out


def overdue_items(session: Session, as_of: date, tz: str = DEFAULT_TZ) -> list[dict[str, Any]]:
    """Items still open on ``as_of`` past their due (or review) date, oldest first."""
    out = [
        {
            "ward": then.ward_code,
            "category": then.item.category.value,
            "issue": then.item.issue,
            "owner": then.item.owner,
            "due": then.due,
            "days_overdue": (as_of - then.due).days,
        }
        for then in items_as_of(session, as_of, tz)
        if then.open and then.due is not None and then.due < as_of
    ]
    return sorted(out, key=lambda o: (o["due"], o["ward"]))


def overdue_by_ward(overdue: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per ward: how many items are overdue and the oldest due date, most overdue first."""
    counts = Counter(o["ward"] for o in overdue)
    oldest: dict[str, date] = {}
    for o in overdue:
        oldest.setdefault(o["ward"], o["due"])
    return [
        {"ward": ward, "count": n, "oldest": oldest[ward]}
        for ward, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    ]


# --- notifications -----------------------------------------------------------------------------


def _died_by(deliveries: Sequence[Mapping[str, Any]], created_at: datetime, end: datetime) -> bool:
    """Whether a dead message had died by ``end``: no column says when, its last attempt did."""
    tried = [str(d["at"]) for d in deliveries if d.get("at")]
    last = datetime.fromisoformat(max(tried)) if tried else created_at
    return _by(last, end)


def notification_counts(
    session: Session, as_of: date | None = None, tz: str = DEFAULT_TZ
) -> dict[str, int]:
    """Messages created by ``as_of``, by their status then (pending, sent, dead).

    Counted in the database: the rows carry bodies and attachments (a board report's PDF), and
    the digest asks this every week of a year's outbox. Only dead rows are read, for the time
    of their last attempt (a JSON log no SQL both databases share can take the maximum of).
    """
    end = cutoff(as_of, tz) if as_of else None
    if end is None:
        rows = session.exec(
            select(Notification.status, func.count()).group_by(Notification.status)  # type: ignore[call-overload]
        ).all()
        return {str(status): n for status, n in rows}
    made = col(Notification.created_at) < end
    sent_then = or_(col(Notification.sent_at).is_(None), col(Notification.sent_at) < end)
    status_then = case(
        (and_(col(Notification.status) == NotificationStatus.sent, sent_then), "sent"),
        else_="pending",
    )
    counts: Counter[str] = Counter()
    for status, n in session.exec(
        select(status_then, func.count())
        .where(made, Notification.status != NotificationStatus.dead)
        .group_by(status_then)
    ):
        counts[status] += n
    dead = session.exec(
        select(Notification.deliveries, Notification.created_at).where(
            made, Notification.status == NotificationStatus.dead
        )
    )
    for deliveries, created_at in dead:
        counts["dead" if _died_by(deliveries, created_at, end) else "pending"] += 1
    return dict(counts)


# --- the programme as a whole ------------------------------------------------------------------


def training(session: Session, settings: Settings, as_of: date) -> dict[str, Any]:
    """QSIR Practitioner trained to date and where every nominee was (services.qsir_kpis)."""
    from wardprog.services.qsir_kpis import training_kpis

    return training_kpis(session, as_of, settings.qsir_target_trained, tz=settings.timezone)


def programme_status(session: Session, settings: Settings, as_of: date) -> dict[str, Any]:
    """Everything `wardprog status --json` prints, as the programme stood on ``as_of``."""
    tz = settings.timezone
    statuses = ward_statuses(session, as_of, tz)
    return {
        "as_of": as_of,
        "waves": wave_rows(session, as_of, tz),
        "wards": [s.as_json() for s in statuses],
        "stages": {k.value: v for k, v in stage_counts(statuses).items()},
        "not_yet_enrolled": unenrolled_wards(session, as_of, tz),
        "triage": triage_counts(session, as_of, tz),
        "qsir": training(session, settings, as_of),
        "notifications": notification_counts(session, as_of, tz),
    }


# Tables whose dates say how far a database's story runs (a replay's last day).
_DATED: tuple[Any, ...] = (
    WardEnrolment.completed_at,
    WardEnrolment.enrolled_at,
    TriageItem.created_at,
    TriageItem.closed_at,
    Notification.created_at,
    Notification.sent_at,
)


def latest_date(session: Session, tz: str = DEFAULT_TZ) -> date | None:
    """The latest day anything in the database happened on (``None`` for an empty one)."""
    found = [session.exec(select(func.max(column))).one() for column in _DATED]
    days = [_day(v, tz) for v in found if v is not None]
    return max((d for d in days if d is not None), default=None)


def default_as_of(session: Session, settings: Settings, today: date) -> tuple[date, str]:
    """The date a report defaults to, and how to say it.

    A replay's database (the installation is the demo) tells a year that may run past the real
    today or end before it: its latest date, said so. A real deployment: today.
    """
    kind = session.exec(select(Installation.kind)).first()
    if kind == InstallationKind.demo.value:
        latest = latest_date(session, settings.timezone)
        if latest is not None:
            return latest, "the latest date in this demo database"
    return today, "today"


def report_date(session: Session, settings: Settings, as_of: date | None) -> tuple[date, str]:
    """The date a report reads, and how to name it: "30 June 2026" when given, else e.g.
    "31 December 2026 (the latest date in this demo database)" or "2 December 2026 (today)".

    Without ``as_of``: today on the engine's clock, or for the demo's replayed database the
    latest date its data knows (:func:`default_as_of`).
    """
    if as_of is not None:
        return as_of, long_date(as_of)
    day, why = default_as_of(session, settings, clock.today(settings.timezone))
    return day, f"{long_date(day)} ({why})"


def long_date(day: date) -> str:
    """``1 March 2026``: how the reports name a day."""
    return f"{day.day} {day:%B %Y}"


def table_counts(session: Session) -> dict[str, int]:
    """Rows per table: what the idempotency check compares between two runs."""
    counts = {}
    for table in SQLModel.metadata.sorted_tables:
        counts[table.name] = session.exec(select(func.count()).select_from(table)).one()
    return counts
