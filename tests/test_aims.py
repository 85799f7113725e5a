"""The numeric aim and the evidence rule for a 3.0+ IHI score (pure rules)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wardprog.rules.aims import Aim, Direction, aim_problems, latest_reading, needs_evidence

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(baseline=finite, gap=st.floats(min_value=1e-3, max_value=1e6), share=st.floats(0, 1))
def test_progress_runs_from_baseline_to_target_either_way(
    baseline: float, gap: float, share: float
) -> None:
    aims: tuple[tuple[Direction, float], ...] = (
        ("increase", baseline + gap),
        ("decrease", baseline - gap),
    )
    for direction, target in aims:
        aim = Aim("m", baseline, target, direction)
        assert aim_problems("m", baseline, target, direction) == []
        assert aim.progress(baseline) == pytest.approx(0, abs=1e-9)
        assert aim.progress(target) == pytest.approx(1)
        value = baseline + share * (target - baseline)
        assert aim.progress(value) == pytest.approx(share, abs=1e-6)


def test_the_latest_value_is_the_reading_and_20_percent_is_evidence() -> None:
    aim = Aim("falls a month", 10, 5, "decrease")
    series = [(date(2026, 3, 31), 8.0), (date(2026, 4, 30), 9.5), (date(2026, 5, 31), 4.0)]
    # One good month long ago does not count: the latest value on or before the day does.
    early = latest_reading(aim, series, date(2026, 5, 1))
    assert (early.value, early.progress, early.is_evidence) == (9.5, 0.1, False)
    assert latest_reading(aim, series, date(2026, 4, 1)).is_evidence  # 8.0: 40% of the way
    assert latest_reading(aim, [(date(2026, 4, 1), 9.0)], date(2026, 4, 1)).is_evidence  # 20%
    with pytest.raises(LookupError):
        latest_reading(aim, series, date(2026, 3, 30))
    assert [needs_evidence(s) for s in (2.5, 3.0, 5.0)] == [False, True, True]


def test_what_stops_an_aim_being_usable() -> None:
    assert aim_problems("", None, 5, "up") == [
        "the aim needs a measure",
        "the aim needs a baseline and a target",
        "the aim's direction is 'up': one of increase, decrease",
    ]
    assert aim_problems("m", 10, 12, "decrease") == [
        "a target of 12 from a baseline of 10 is not a decrease: check the direction"
    ]
