"""Pure QSIR rules: cohort dates, the fair seat allocator and the completion rule."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wardprog.rules.cohorts import (
    CohortSeats,
    CompletionRule,
    SeatRequest,
    Verdict,
    allocate,
    completion_verdict,
    plan_fundamentals_sessions,
    plan_practitioner_cohorts,
    practitioner_session_dates,
    service_order,
)
from wardprog.rules.working_days import england_bank_holidays

HOLIDAYS = england_bank_holidays(date(2025, 1, 1), date(2031, 12, 31))


# --- dates ------------------------------------------------------------------------------------


def test_four_practitioner_cohorts_a_year_of_five_weekly_days():
    plans = plan_practitioner_cohorts(date(2025, 12, 31), date(2026, 12, 31), 24)
    assert [p.code for p in plans] == [
        "QSIR-P-2026-Q1",
        "QSIR-P-2026-Q2",
        "QSIR-P-2026-Q3",
        "QSIR-P-2026-Q4",
    ]
    for plan in plans:
        assert len(plan.session_dates) == 5
        assert plan.capacity == 24
        mondays = [d - timedelta(days=d.weekday()) for d in plan.session_dates]
        assert [(m - mondays[0]).days for m in mondays] == [0, 7, 14, 21, 28]
        assert all(d.weekday() < 5 and d not in HOLIDAYS for d in plan.session_dates)


def test_bank_holiday_moves_the_day_within_its_week():
    # Christmas week 2026: Fri 25th and Mon 28th (Boxing Day substitute) are closed.
    closed = HOLIDAYS | {date(2026, 12, 23)}  # and say the centre is booked on the Wednesday
    days = practitioner_session_dates(date(2026, 12, 21), closed, weekday=2)
    assert days[0] == date(2026, 12, 24)  # Thursday, the nearest open weekday
    assert days[1] == date(2026, 12, 30)


def test_cohort_slips_a_week_when_a_whole_week_is_closed():
    first = date(2027, 3, 1)
    closed = {first + timedelta(days=7 * 2 + d) for d in range(5)}  # third week shut
    days = practitioner_session_dates(first, closed)
    assert days[0] == date(2027, 3, 24)  # started three weeks later, after the closed week
    mondays = [d - timedelta(days=d.weekday()) for d in days]
    assert [(m - mondays[0]).days for m in mondays] == [0, 7, 14, 21, 28]


@given(st.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31)))
@settings(max_examples=60, deadline=None)
def test_planned_dates_never_weekends_or_bank_holidays(after):
    plans = plan_practitioner_cohorts(after, after + timedelta(days=400), 24, HOLIDAYS)
    plans += plan_fundamentals_sessions(after, after + timedelta(days=400), 24, HOLIDAYS)
    assert 4 <= sum(p.course == "practitioner" for p in plans) <= 5
    for plan in plans:
        assert plan.start_date > after
        assert all(d.weekday() < 5 and d not in HOLIDAYS for d in plan.session_dates)
    assert len({p.code for p in plans}) == len(plans)


def test_fundamentals_is_one_day_a_month():
    plans = plan_fundamentals_sessions(date(2026, 1, 1), date(2026, 6, 30), 30)
    assert [p.code for p in plans][:2] == ["QSIR-F-2026-01", "QSIR-F-2026-02"]
    assert all(len(p.session_dates) == 1 for p in plans)


# --- allocation -------------------------------------------------------------------------------

SITES = ["NTH", "STH", "EST"]


@st.composite
def scenarios(draw):
    n_wards = draw(st.integers(1, 9))
    wards = [(f"W{i}", SITES[i % 3]) for i in range(n_wards)]
    n_requests = draw(st.integers(0, 40))
    requests = []
    seqs = draw(
        st.lists(st.integers(0, 1000), min_size=n_requests, max_size=n_requests, unique=True)
    )
    for i in range(n_requests):
        ward, site = wards[draw(st.integers(0, n_wards - 1))]
        requests.append(SeatRequest(key=i + 1, ward=ward, site=site, seq=seqs[i]))
    n_cohorts = draw(st.integers(0, 5))
    start = date(2026, 1, 1)
    cohorts = [
        CohortSeats(
            key=f"C{i}",
            start_date=start + timedelta(days=draw(st.integers(-60, 400))),
            capacity=draw(st.integers(0, 8)),
            taken=draw(st.integers(0, 9)),
        )
        for i in range(n_cohorts)
    ]
    load = {w: draw(st.integers(0, 2)) for w, _ in wards}
    return requests, cohorts, load


AS_OF = date(2026, 1, 1)


@given(scenarios())
@settings(max_examples=300, deadline=None)
def test_capacity_never_exceeded_and_nobody_booked_twice(scenario):
    requests, cohorts, load = scenario
    result = allocate(requests, cohorts, AS_OF, load)
    used = Counter(result.booked.values())
    for c in cohorts:
        assert used[c.key] <= c.free
        if used[c.key]:
            assert c.start_date > AS_OF  # never into a cohort that has already started
    keys = [r.key for r in requests]
    assert sorted([*result.booked, *result.waitlist]) == sorted(keys)  # each exactly once
    assert not set(result.booked) & set(result.waitlist)


@given(scenarios())
@settings(max_examples=300, deadline=None)
def test_earliest_cohort_with_room_and_waitlist_only_when_full(scenario):
    requests, cohorts, load = scenario
    result = allocate(requests, cohorts, AS_OF, load)
    starts = {c.key: (c.start_date, c.key) for c in cohorts}
    used = Counter(result.booked.values())
    eligible = [c for c in cohorts if c.start_date > AS_OF]
    if result.waitlist:  # nobody waits while any eligible cohort has a free seat
        assert all(used[c.key] == c.free for c in eligible)
    # Served in order: anyone served earlier sits in a cohort no later than anyone after them.
    rank = {
        k: starts[result.booked[k]] if k in result.booked else (date.max, "") for k in result.order
    }
    placed = [rank[k] for k in result.order]
    assert placed == sorted(placed)


@given(scenarios())
@settings(max_examples=300, deadline=None)
def test_no_ward_takes_more_than_its_share_while_others_wait(scenario):
    requests, cohorts, load = scenario
    result = allocate(requests, cohorts, AS_OF, load)
    wards = {r.key: r.ward for r in requests}
    booked = Counter(wards[k] for k in result.booked)
    waiting = {wards[k] for k in result.waitlist}
    for a in waiting:
        held_a = load.get(a, 0) + booked[a]
        for b, n in booked.items():
            # b received a seat at tier (load_b + n - 1) while a waited at tier held_a.
            assert load.get(b, 0) + n - 1 <= held_a


@given(scenarios())
@settings(max_examples=200, deadline=None)
def test_waitlist_order_is_kept(scenario):
    requests, cohorts, load = scenario
    result = allocate(requests, cohorts, AS_OF, load)
    by_key = {r.key: r for r in requests}
    # The waitlist is the served order with the booked removed...
    assert list(result.waitlist) == [k for k in result.order if k not in result.booked]
    # ...each ward's people keep their claim order...
    for ward in {r.ward for r in requests}:
        mine = [by_key[k].seq for k in result.waitlist if by_key[k].ward == ward]
        assert mine == sorted(mine)
    # ...and re-queuing the waitlist by position (as the service does) keeps that order.
    booked_load = Counter(by_key[k].ward for k in result.booked)
    again = [
        SeatRequest(k, by_key[k].ward, by_key[k].site, seq=i) for i, k in enumerate(result.waitlist)
    ]
    load_after = {w: load.get(w, 0) + booked_load[w] for w in {r.ward for r in requests}}
    assert allocate(again, [], AS_OF, load_after).waitlist == result.waitlist


@given(scenarios(), st.randoms(use_true_random=False))
@settings(max_examples=150, deadline=None)
def test_allocation_is_deterministic_whatever_the_input_order(scenario, rnd):
    requests, cohorts, load = scenario
    first = allocate(requests, cohorts, AS_OF, load)
    shuffled_r, shuffled_c = list(requests), list(cohorts)
    rnd.shuffle(shuffled_r)
    rnd.shuffle(shuffled_c)
    again = allocate(shuffled_r, shuffled_c, AS_OF, load)
    assert (again.booked, again.waitlist, again.order) == (
        first.booked,
        first.waitlist,
        first.order,
    )


def test_every_ward_gets_a_first_seat_before_anyone_gets_a_second():
    # Ward A nominated four people first; B and C nominated later. Five seats.
    requests = [SeatRequest(i, "A", "NTH", seq=i) for i in range(1, 5)]
    requests += [SeatRequest(10, "B", "STH", seq=10), SeatRequest(11, "C", "EST", seq=11)]
    result = allocate(requests, [CohortSeats("C1", date(2026, 2, 4), 5)], AS_OF)
    assert set(result.booked) == {1, 2, 10, 11, 3}
    assert result.waitlist == (4,)


def test_sites_take_turns_within_a_tier():
    requests = [
        SeatRequest(1, "A1", "NTH", 1),
        SeatRequest(2, "A2", "NTH", 2),
        SeatRequest(3, "A3", "NTH", 3),
        SeatRequest(4, "B1", "STH", 4),
    ]
    ordered, tiers = service_order(requests)
    assert [r.key for r in ordered] == [1, 4, 2, 3]
    assert set(tiers.values()) == {0}


def test_existing_bookings_count_against_a_ward():
    requests = [SeatRequest(1, "A", "NTH", 1), SeatRequest(2, "B", "NTH", 2)]
    result = allocate(requests, [CohortSeats("C1", date(2026, 2, 4), 1)], AS_OF, {"A": 2})
    assert result.booked == {2: "C1"}
    assert result.waitlist == (1,)


def test_duplicate_keys_are_rejected():
    with pytest.raises(ValueError):
        allocate([SeatRequest(1, "A", "S", 1), SeatRequest(1, "B", "S", 2)], [], AS_OF)


def test_many_requests_fill_every_seat_in_order():
    rnd = random.Random(3)
    requests = [
        SeatRequest(i, f"W{i % 60}", SITES[i % 3], rnd.randrange(10**6)) for i in range(3000)
    ]
    cohorts = [
        CohortSeats(f"C{i}", date(2026, 1, 10) + timedelta(days=91 * i), 24) for i in range(40)
    ]
    result = allocate(requests, cohorts, AS_OF)
    assert len(result.booked) == 960 and len(result.waitlist) == 2040


# --- completion -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("past", "attended", "project", "expected"),
    [
        (2, 2, False, Verdict.in_progress),
        (3, 2, False, Verdict.in_progress),  # can still reach 4 of 5
        (3, 1, False, Verdict.not_met),  # missed two of the first three
        (4, 2, False, Verdict.not_met),  # cannot: missed two already
        (5, 4, False, Verdict.awaiting_project),
        (5, 4, True, Verdict.completed),
        (5, 3, True, Verdict.not_met),
    ],
)
def test_default_completion_rule(past, attended, project, expected):
    verdict = completion_verdict(
        CompletionRule(),
        sessions_total=5,
        sessions_past=past,
        attended=attended,
        project_presented=project,
    )
    assert verdict == expected


def test_completion_rule_is_configurable():
    rule = CompletionRule(min_sessions_attended=5, require_project=False)
    assert rule.describe() == "at least 5 sessions attended"

    def verdict(attended: int) -> Verdict:
        return completion_verdict(
            rule, sessions_total=5, sessions_past=5, attended=attended, project_presented=False
        )

    assert verdict(5) == Verdict.completed
    assert verdict(4) == Verdict.not_met
