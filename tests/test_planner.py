"""Property tests for the rollout planner: the promises the programme makes to wards."""

import itertools
from collections import Counter
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wardprog.rules.planner import PlannerWard, plan_rollout, wave_bounds, wave_number_on


@st.composite
def registers(draw: st.DrawFn) -> list[PlannerWard]:
    n_sites = draw(st.integers(1, 5))
    wards = []
    for s in range(n_sites):
        for w in range(draw(st.integers(0, 23))):
            prio = draw(st.one_of(st.none(), st.integers(1, 5)))
            wards.append(PlannerWard(code=f"S{s}-W{w}", site_code=f"S{s}", priority=prio))
    order = draw(st.permutations(wards))
    return list(order)


starts = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@given(registers(), starts, st.integers(1, 8))
def test_every_ward_exactly_once_and_per_site_cap(wards, start, per_site):
    plan = plan_rollout(wards, start, per_site)
    placed = [c for wave in plan for c in wave.ward_codes]
    assert sorted(placed) == sorted(w.code for w in wards)
    site_of = {w.code: w.site_code for w in wards}
    for wave in plan:
        per = Counter(site_of[c] for c in wave.ward_codes)
        assert max(per.values()) <= per_site
        assert wave.ward_codes, "no empty waves"


@given(registers(), starts, st.integers(1, 8))
def test_waves_are_contiguous_quarters_and_deterministic(wards, start, per_site):
    plan = plan_rollout(wards, start, per_site)
    assert plan == plan_rollout(wards, start, per_site)
    assert [w.number for w in plan] == list(range(1, len(plan) + 1))
    for prev, nxt in itertools.pairwise(plan):
        assert (nxt.quarter_start - prev.quarter_end).days == 1
    if plan:
        assert plan[0].quarter_start == start.replace(day=1)


@given(registers(), starts)
def test_priority_order_within_site(wards, start):
    plan = plan_rollout(wards, start, 2)
    wave_of = {c: w.number for w in plan for c in w.ward_codes}
    for a in wards:
        for b in wards:
            earlier = b.priority is None or (a.priority is not None and a.priority < b.priority)
            if a.site_code == b.site_code and a.priority is not None and earlier:
                assert wave_of[a.code] <= wave_of[b.code]


def test_sixty_wards_three_sites_gives_four_waves_of_fifteen():
    wards = [PlannerWard(f"{s}{i:02d}", s) for s in "ABC" for i in range(20)]
    plan = plan_rollout(wards, date(2026, 1, 2))
    assert [len(w.ward_codes) for w in plan] == [15, 15, 15, 15]
    assert plan[3].quarter_start == date(2026, 10, 1)
    assert plan[3].quarter_end == date(2026, 12, 31)


def test_duplicate_codes_rejected():
    with pytest.raises(ValueError, match="A1"):
        plan_rollout([PlannerWard("A1", "A"), PlannerWard("A1", "B")], date(2026, 1, 1))


@given(starts, st.integers(1, 20), st.integers(0, 92))
def test_wave_number_on_matches_bounds(start, number, offset):
    begin, end = wave_bounds(start, number)
    day = min(begin.toordinal() + offset, end.toordinal())
    assert wave_number_on(start, date.fromordinal(day)) == number
