"""QSIR cohorts: when they run, who gets a seat, and when someone counts as trained.

Pure rules, no I/O. QSIR (Quality, Service Improvement and Redesign) Practitioner is taught one
day a week for five consecutive weeks; the trust runs four cohorts a year. Fundamentals is a
single day, run monthly. Teaching days avoid weekends and England bank holidays because the
faculty are clinicians and the education centre is shut.

Seat allocation is first-come within a fairness rule: every ward gets its k-th seat before any
ward gets its (k+1)-th, and sites take turns, so one keen site or ward cannot crowd out the rest
of a wave. Bookings already made are never moved (people have been sent dates and rosters are
written around them); only pending and waitlisted nominations are (re)allocated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from wardprog.rules.working_days import england_bank_holidays

PRACTITIONER = "practitioner"
FUNDAMENTALS = "fundamentals"

PRACTITIONER_SESSIONS = 5
# Four Practitioner cohorts a year, one starting in each calendar quarter.
PRACTITIONER_START_MONTHS = (1, 4, 7, 10)
# Wednesday: never Easter/May bank holidays, and mid-week is easiest for ward rosters.
DEFAULT_TEACHING_WEEKDAY = 2
# Cohorts start in the second week of their month, clear of New Year and of month-end rotas.
PRACTITIONER_WEEK_OF_MONTH = 2
FUNDAMENTALS_WEEKDAY = 3  # Thursday
FUNDAMENTALS_WEEK_OF_MONTH = 3


def closed_days(after: date, until: date) -> frozenset[date]:
    """The days teaching cannot fall on for cohorts planned between ``after`` and ``until``.

    Bank holidays to the end of the year after ``until``: a cohort starting near ``until``
    runs on for five weeks past it.
    """
    return england_bank_holidays(date(after.year, 1, 1), date(until.year + 1, 12, 31))


def is_teaching_day(day: date, closed: Collection[date]) -> bool:
    return day.weekday() < 5 and day not in closed


def teaching_day_in_week(monday: date, weekday: int, closed: Collection[date]) -> date | None:
    """The preferred weekday of the week starting ``monday``, else the nearest open weekday.

    Later days are tried before earlier ones at the same distance so the gap between two
    sessions never shrinks below a working week by more than necessary.
    """
    candidates = [weekday] + [
        d for step in range(1, 5) for d in (weekday + step, weekday - step) if 0 <= d <= 4
    ]
    for d in candidates:
        day = monday + timedelta(days=d)
        if is_teaching_day(day, closed):
            return day
    return None


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def teaching_week(year: int, month: int, weekday: int, week_of_month: int) -> date:
    """The Monday of the week holding the month's ``week_of_month``-th ``weekday``.

    Both courses are planned by the week: the teaching day is then chosen within it
    (:func:`teaching_day_in_week`), clear of weekends and bank holidays.
    """
    anchor = nth_weekday(year, month, weekday, week_of_month)
    return anchor - timedelta(days=anchor.weekday())


def practitioner_session_dates(
    first_monday: date,
    closed: Collection[date],
    weekday: int = DEFAULT_TEACHING_WEEKDAY,
    sessions: int = PRACTITIONER_SESSIONS,
) -> tuple[date, ...]:
    """One teaching day in each of ``sessions`` consecutive weeks, starting the week given.

    If some week has no open weekday at all (Christmas week with substitute days), the whole
    cohort slips a week: the course must run in consecutive weeks.
    """
    if first_monday.weekday() != 0:
        raise ValueError(f"{first_monday} is not a Monday")
    start = first_monday
    for _ in range(8):
        days = [
            teaching_day_in_week(start + timedelta(weeks=w), weekday, closed)
            for w in range(sessions)
        ]
        if all(d is not None for d in days):
            return tuple(d for d in days if d is not None)
        start += timedelta(weeks=1)
    raise ValueError(f"no run of {sessions} consecutive teaching weeks from {first_monday}")


@dataclass(frozen=True)
class CohortPlan:
    code: str
    course: str
    session_dates: tuple[date, ...]
    capacity: int

    @property
    def start_date(self) -> date:
        return self.session_dates[0]

    @property
    def end_date(self) -> date:
        return self.session_dates[-1]


def _months(start: date, until: date) -> Iterable[tuple[int, int]]:
    year, month = start.year, start.month
    while (year, month) <= (until.year, until.month):
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def plan_practitioner_cohorts(
    after: date,
    until: date,
    capacity: int,
    closed: Collection[date] | None = None,
    weekday: int = DEFAULT_TEACHING_WEEKDAY,
) -> list[CohortPlan]:
    """Practitioner cohorts starting strictly after ``after`` and on or before ``until``."""
    if closed is None:
        closed = closed_days(after, until)
    plans = []
    for year, month in _months(after, until):
        if month not in PRACTITIONER_START_MONTHS:
            continue
        monday = teaching_week(year, month, weekday, PRACTITIONER_WEEK_OF_MONTH)
        dates = practitioner_session_dates(monday, closed, weekday)
        if after < dates[0] <= until:
            quarter = (month - 1) // 3 + 1
            plans.append(CohortPlan(f"QSIR-P-{year}-Q{quarter}", PRACTITIONER, dates, capacity))
    return plans


def plan_fundamentals_sessions(
    after: date,
    until: date,
    capacity: int,
    closed: Collection[date] | None = None,
    weekday: int = FUNDAMENTALS_WEEKDAY,
) -> list[CohortPlan]:
    """Monthly one-day Fundamentals sessions strictly after ``after`` up to ``until``."""
    if closed is None:
        closed = closed_days(after, until)
    plans = []
    for year, month in _months(after, until):
        monday = teaching_week(year, month, weekday, FUNDAMENTALS_WEEK_OF_MONTH)
        day = teaching_day_in_week(monday, weekday, closed)
        if day is not None and after < day <= until:
            plans.append(CohortPlan(f"QSIR-F-{year}-{month:02d}", FUNDAMENTALS, (day,), capacity))
    return plans


def plan_cohorts(
    course: str, after: date, until: date, capacity: int, closed: Collection[date] | None = None
) -> list[CohortPlan]:
    if course == PRACTITIONER:
        return plan_practitioner_cohorts(after, until, capacity, closed)
    if course == FUNDAMENTALS:
        return plan_fundamentals_sessions(after, until, capacity, closed)
    raise ValueError(f"unknown QSIR course {course!r}")


# --- allocation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SeatRequest:
    """A nomination waiting for a seat. ``seq`` is its claim order: lower is earlier."""

    key: int
    ward: str
    site: str
    seq: int


@dataclass(frozen=True)
class CohortSeats:
    key: str
    start_date: date
    capacity: int
    taken: int = 0

    @property
    def free(self) -> int:
        return max(0, self.capacity - self.taken)


@dataclass(frozen=True)
class Allocation:
    booked: dict[int, str]  # request key -> cohort key
    waitlist: tuple[int, ...]  # request keys, first in line first
    order: tuple[int, ...]  # the order requests were served in
    tiers: dict[int, int] = field(default_factory=dict)  # request key -> fairness tier


def service_order(
    requests: Sequence[SeatRequest], ward_load: Mapping[str, int] | None = None
) -> tuple[list[SeatRequest], dict[int, int]]:
    """The order in which requests are served, and each request's fairness tier.

    A request's tier is how many seats its ward will already hold when it is served (existing
    bookings plus its ward's earlier requests). Lower tiers go first; within a tier, sites take
    turns (in order of their earliest claim) and each site's requests keep their claim order.
    """
    load = ward_load or {}
    keys = [r.key for r in requests]
    if len(set(keys)) != len(keys):
        raise ValueError("duplicate request keys")
    by_ward: dict[str, list[SeatRequest]] = defaultdict(list)
    for r in sorted(requests, key=lambda r: (r.seq, r.key)):
        by_ward[r.ward].append(r)
    tier_of: dict[int, int] = {}
    for ward, items in by_ward.items():
        for i, r in enumerate(items):
            tier_of[r.key] = load.get(ward, 0) + i

    by_tier: dict[int, list[SeatRequest]] = defaultdict(list)
    for r in requests:
        by_tier[tier_of[r.key]].append(r)
    ordered: list[SeatRequest] = []
    for tier in sorted(by_tier):
        by_site: dict[str, list[SeatRequest]] = defaultdict(list)
        for r in sorted(by_tier[tier], key=lambda r: (r.seq, r.key)):
            by_site[r.site].append(r)
        sites = sorted(by_site, key=lambda s: (by_site[s][0].seq, by_site[s][0].key, s))
        for turn in range(max(len(v) for v in by_site.values())):
            ordered.extend(by_site[s][turn] for s in sites if turn < len(by_site[s]))
    return ordered, tier_of


def allocate(
    requests: Sequence[SeatRequest],
    cohorts: Sequence[CohortSeats],
    as_of: date,
    ward_load: Mapping[str, int] | None = None,
) -> Allocation:
    """Give each request the earliest cohort starting after ``as_of`` with a free seat.

    Requests are served in :func:`service_order`; whoever finds every eligible cohort full joins
    the waitlist in that same order. Deterministic: the result depends only on the inputs, not on
    their order.
    """
    ordered, tiers = service_order(requests, ward_load)
    eligible = sorted(
        (c for c in cohorts if c.start_date > as_of), key=lambda c: (c.start_date, c.key)
    )
    if len({c.key for c in cohorts}) != len(cohorts):
        raise ValueError("duplicate cohort keys")
    free = {c.key: c.free for c in eligible}
    booked: dict[int, str] = {}
    waitlist: list[int] = []
    pos = 0
    for r in ordered:
        while pos < len(eligible) and free[eligible[pos].key] == 0:
            pos += 1
        if pos == len(eligible):
            waitlist.append(r.key)
            continue
        cohort = eligible[pos]
        booked[r.key] = cohort.key
        free[cohort.key] -= 1
    return Allocation(
        booked=booked, waitlist=tuple(waitlist), order=tuple(r.key for r in ordered), tiers=tiers
    )


# --- completion -------------------------------------------------------------------------------


class Verdict(StrEnum):
    in_progress = "in_progress"  # sessions still to come and the rule can still be met
    completed = "completed"
    awaiting_project = "awaiting_project"  # attendance met, project not yet presented
    not_met = "not_met"  # too many sessions missed: defer to a later cohort


@dataclass(frozen=True)
class CompletionRule:
    """The trust's definition of "QSIR trained": attendance plus a presented improvement project."""

    min_sessions_attended: int = 4
    require_project: bool = True

    def describe(self) -> str:
        text = f"at least {self.min_sessions_attended} sessions attended"
        return text + (" and a presented project" if self.require_project else "")


def completion_verdict(
    rule: CompletionRule,
    *,
    sessions_total: int,
    sessions_past: int,
    attended: int,
    project_presented: bool,
) -> Verdict:
    remaining = sessions_total - sessions_past
    needed = min(rule.min_sessions_attended, sessions_total)
    if attended + remaining < needed:
        return Verdict.not_met
    if remaining > 0:
        return Verdict.in_progress
    if rule.require_project and not project_presented:
        return Verdict.awaiting_project
    return Verdict.completed
