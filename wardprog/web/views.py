"""What the ward page and the team page show: plain read models, no HTML, no requests."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from sqlmodel import Session, col, select

from wardprog.config import LONDON
from wardprog.models import (
    CoachingSession,
    DiagnosticSnapshot,
    EngagementEvent,
    EventStatus,
    Facilitator,
    ImprovementProject,
    ImprovementScore,
    NominationStatus,
    PdsaCycle,
    QsirAttendance,
    QsirCohort,
    QsirNomination,
    Site,
    StaffMember,
    TriageCategory,
    TriageItem,
    TriageStatus,
    Venue,
    Ward,
    WardEnrolment,
    Wave,
)
from wardprog.services.context import ward_by_code


@dataclass(frozen=True)
class Score:
    score: float
    on: date
    by: str
    why: str


@dataclass
class ItemView:
    id: int
    issue: str
    category: TriageCategory
    status: TriageStatus
    owner: str
    due_date: date | None
    review_date: date | None
    outcome: str
    scores: list[Score] = field(default_factory=list)

    @property
    def latest_score(self) -> float | None:
        return self.scores[-1].score if self.scores else None

    def overdue(self, today: date) -> bool:
        due = self.due_date or self.review_date
        return self.status is TriageStatus.open and due is not None and due < today


@dataclass(frozen=True)
class EventView:
    id: int
    starts_at: datetime
    ends_at: datetime
    status: EventStatus
    venue: str
    facilitator: str


@dataclass(frozen=True)
class NomineeView:
    staff_number: str
    name: str
    course: str
    status: NominationStatus
    cohort: str
    session_dates: list[date]
    attended: int


@dataclass(frozen=True)
class StaffOption:
    staff_number: str
    name: str
    role: str
    band: str


@dataclass(frozen=True)
class ProjectScore:
    score: float
    on: date
    by: str
    why: str
    evidence: str  # the measure value or the note a 3.0+ rests on


@dataclass
class ProjectView:
    """A project on its ward's page: its record (the update form is filled from it) and logs."""

    id: int
    item_id: int | None
    title: str
    status: str
    stop_reason: str
    started_on: date
    aim: str
    aim_measure: str
    aim_baseline: float | None
    aim_target: float | None
    aim_direction: str
    aim_by: date | None
    lead: str
    lead_email: str
    qi_coach: str
    strategic_aim: str
    ppi_level: str
    ppi_note: str
    co2e_kg: float | None
    sustainability_note: str
    pdsa_cycles: int
    coaching_sessions: int
    scores: list[ProjectScore] = field(default_factory=list)

    @property
    def latest_score(self) -> float | None:
        return self.scores[-1].score if self.scores else None


@dataclass
class WardPage:
    code: str
    name: str
    site: str
    specialty: str
    manager_name: str
    wave_number: int | None
    stage: str | None
    pack_path: str | None
    event: EventView | None
    items: dict[TriageCategory, list[ItemView]]
    nominees: list[NomineeView]
    staff: list[StaffOption]
    projects: list[ProjectView] = field(default_factory=list)


def _local(value: datetime | None) -> datetime:
    assert value is not None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(LONDON)


def _wave(session: Session, ward: Ward) -> tuple[WardEnrolment | None, Wave | None]:
    enrolment = session.exec(select(WardEnrolment).where(WardEnrolment.ward_id == ward.id)).first()
    return enrolment, session.get(Wave, enrolment.wave_id) if enrolment else None


def _pack_path(session: Session, ward: Ward) -> str | None:
    return session.exec(
        select(DiagnosticSnapshot.pack_path)
        .where(DiagnosticSnapshot.ward_id == ward.id, DiagnosticSnapshot.kind == "baseline")
        .order_by(col(DiagnosticSnapshot.id).desc())
    ).first()


def pack_path(session: Session, ward_code: str) -> str | None:
    """The ward's latest baseline pack (the pack route needs nothing else of the page)."""
    return _pack_path(session, ward_by_code(session, ward_code))


def ward_event(session: Session, ward_code: str) -> tuple[int, EventView] | None:
    """The ward's wave number and engagement event, for forms that act on the event."""
    ward = ward_by_code(session, ward_code)
    _, wave = _wave(session, ward)
    event = _event(session, ward, wave)
    return (wave.number, event) if wave is not None and event is not None else None


def ward_page(session: Session, ward_code: str) -> WardPage:
    ward = ward_by_code(session, ward_code)
    site = session.get(Site, ward.site_id)
    enrolment, wave = _wave(session, ward)
    pack = _pack_path(session, ward)
    return WardPage(
        code=ward.code,
        name=ward.name,
        site=site.name if site else "",
        specialty=ward.specialty,
        manager_name=ward.manager_name,
        wave_number=wave.number if wave else None,
        stage=enrolment.stage.value if enrolment else None,
        pack_path=pack,
        event=_event(session, ward, wave),
        items=_items(session, ward),
        nominees=_nominees(session, ward),
        projects=_projects(session, ward),
        staff=[
            StaffOption(s.staff_number, s.name, s.role, s.band)
            for s in session.exec(
                select(StaffMember).where(StaffMember.ward_id == ward.id).order_by(StaffMember.name)
            ).all()
        ],
    )


def _event(session: Session, ward: Ward, wave: Wave | None) -> EventView | None:
    if wave is None:
        return None
    event = session.exec(
        select(EngagementEvent).where(
            EngagementEvent.ward_id == ward.id, EngagementEvent.wave_id == wave.id
        )
    ).first()
    if event is None or event.id is None:
        return None
    venue = session.get(Venue, event.venue_id) if event.venue_id else None
    person = session.get(Facilitator, event.facilitator_id) if event.facilitator_id else None
    return EventView(
        event.id,
        _local(event.starts_at),
        _local(event.ends_at),
        event.status,
        venue.name if venue else "",
        person.name if person else "",
    )


def _items(session: Session, ward: Ward) -> dict[TriageCategory, list[ItemView]]:
    items = session.exec(
        select(TriageItem).where(TriageItem.ward_id == ward.id).order_by(col(TriageItem.id))
    ).all()
    ids = [i.id for i in items]
    scores: dict[int, list[Score]] = defaultdict(list)
    for s in session.exec(
        select(ImprovementScore)
        .where(col(ImprovementScore.triage_item_id).in_(ids))
        .order_by(col(ImprovementScore.scored_on), col(ImprovementScore.id))
    ).all():
        if s.triage_item_id is not None:  # the query only finds this ward's items' scores
            scores[s.triage_item_id].append(
                Score(s.score, s.scored_on, s.scored_by, s.justification)
            )
    grouped: dict[TriageCategory, list[ItemView]] = {c: [] for c in TriageCategory}
    for i in items:
        assert i.id is not None
        grouped[i.category].append(
            ItemView(
                i.id,
                i.issue,
                i.category,
                i.status,
                i.owner or i.escalated_to,
                i.due_date,
                i.review_date,
                i.outcome,
                scores.get(i.id, []),
            )
        )
    return grouped


def _projects(session: Session, ward: Ward) -> list[ProjectView]:
    """The ward's projects (its `improve` items' and any started on the ward), oldest first."""
    from wardprog.services.projects.scores import scores_by_project

    projects = session.exec(
        select(ImprovementProject)
        .where(ImprovementProject.ward_id == ward.id)
        .order_by(col(ImprovementProject.id))
    ).all()
    ids = [p.id for p in projects]
    history = scores_by_project(session)
    pdsa = Counter(
        session.exec(select(PdsaCycle.project_id).where(col(PdsaCycle.project_id).in_(ids))).all()
    )
    coaching = Counter(
        session.exec(
            select(CoachingSession.project_id).where(col(CoachingSession.project_id).in_(ids))
        ).all()
    )
    out = []
    for p in projects:
        assert p.id is not None
        scores = [
            ProjectScore(
                s.score,
                s.scored_on,
                s.scored_by,
                s.justification,
                f"{p.aim_measure} = {s.evidence_value:g}"
                if s.evidence_value is not None
                else s.evidence_note,
            )
            for s in history.get(p.id, [])
        ]
        view = ProjectView(
            p.id, p.triage_item_id, p.title, p.status.value, p.stop_reason, p.started_on,
            p.aim, p.aim_measure, p.aim_baseline, p.aim_target, p.aim_direction, p.aim_by,
            p.lead, p.lead_email, p.qi_coach, p.strategic_aim, p.ppi_level.value,
            p.ppi_note, p.co2e_kg, p.sustainability_note, pdsa[p.id], coaching[p.id], scores,
        )  # fmt: skip
        out.append(view)
    return out


def _nominees(session: Session, ward: Ward) -> list[NomineeView]:
    rows = session.exec(
        select(QsirNomination, StaffMember)
        .where(QsirNomination.ward_id == ward.id, QsirNomination.staff_id == StaffMember.id)
        .order_by(StaffMember.name)
    ).all()
    out = []
    for nomination, staff in rows:
        cohort = session.get(QsirCohort, nomination.cohort_id) if nomination.cohort_id else None
        attended = session.exec(
            select(QsirAttendance).where(
                QsirAttendance.nomination_id == nomination.id,
                QsirAttendance.attended == True,  # noqa: E712
            )
        ).all()
        out.append(
            NomineeView(
                staff.staff_number,
                staff.name,
                nomination.course.value,
                nomination.status,
                cohort.code if cohort else "",
                [date.fromisoformat(d) for d in cohort.session_dates] if cohort else [],
                len(attended),
            )
        )
    return out


@dataclass(frozen=True)
class TeamEvent:
    ward_code: str
    ward_name: str
    event: EventView


@dataclass(frozen=True)
class RegisterLine:
    staff_number: str
    name: str
    ward_code: str
    present: bool
    presented: bool  # their improvement project (the course's assessment)


@dataclass(frozen=True)
class TeachingDay:
    cohort: str
    day: date
    lines: list[RegisterLine]


@dataclass(frozen=True)
class ChangeRequest:
    id: int
    ward_code: str
    issue: str
    owner: str
    review_date: date | None
    notes: str


@dataclass
class TeamPage:
    today: date
    events: list[TeamEvent]
    teaching_days: list[TeachingDay]
    changes: list[ChangeRequest]


def team_page(session: Session, today: date, days_ahead: int = 28) -> TeamPage:
    start = datetime.combine(today, time.min, LONDON).astimezone(UTC)
    rows = session.exec(
        select(EngagementEvent, Ward)
        .where(EngagementEvent.ward_id == Ward.id)
        .where(EngagementEvent.status != EventStatus.cancelled)
        .where(col(EngagementEvent.starts_at) >= start)
        .order_by(col(EngagementEvent.starts_at))
    ).all()
    events = []
    for event, ward in rows:
        view = _event(session, ward, session.get(Wave, event.wave_id))
        if view is not None and (view.starts_at.date() - today).days <= days_ahead:
            events.append(TeamEvent(ward.code, ward.name, view))
    return TeamPage(today, events, _teaching_days(session, today), _changes(session))


def _teaching_days(session: Session, today: date) -> list[TeachingDay]:
    """The register for each teaching day from a week ago to a fortnight ahead."""
    days = []
    for cohort in session.exec(select(QsirCohort).order_by(col(QsirCohort.start_date))).all():
        for iso in cohort.session_dates:
            day = date.fromisoformat(iso)
            if not -7 <= (day - today).days <= 14:
                continue
            rows = session.exec(
                select(QsirNomination, StaffMember, Ward)
                .where(QsirNomination.cohort_id == cohort.id)
                .where(QsirNomination.staff_id == StaffMember.id)
                .where(QsirNomination.ward_id == Ward.id)
                .where(
                    col(QsirNomination.status).in_(
                        [
                            NominationStatus.booked,
                            NominationStatus.attending,
                            NominationStatus.completed,
                        ]
                    )
                )
                .order_by(StaffMember.name)
            ).all()
            lines = []
            for nomination, staff, ward in rows:
                mark = session.exec(
                    select(QsirAttendance).where(
                        QsirAttendance.nomination_id == nomination.id,
                        QsirAttendance.session_date == day,
                    )
                ).first()
                lines.append(
                    RegisterLine(
                        staff.staff_number,
                        staff.name,
                        ward.code,
                        bool(mark and mark.attended),
                        nomination.project_presented,
                    )
                )
            days.append(TeachingDay(cohort.code, day, lines))
    return days


def _changes(session: Session) -> list[ChangeRequest]:
    rows = session.exec(
        select(TriageItem, Ward)
        .where(TriageItem.ward_id == Ward.id)
        .where(TriageItem.category == TriageCategory.change, TriageItem.status == TriageStatus.open)
        .order_by(col(TriageItem.review_date), col(TriageItem.id))
    ).all()
    return [
        ChangeRequest(i.id, w.code, i.issue, i.owner or i.escalated_to, i.review_date, i.notes)
        for i, w in rows
        if i.id is not None
    ]
