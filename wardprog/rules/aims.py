"""A project's numeric aim and the evidence rule for its IHI score.

The IHI scale's 3.0 is "modest improvement": the QI strategy counts completed projects at 3.0
or more, so a 3.0 must rest on the measure, not on hope. Evidence is a value of the aim's
measure at least :data:`EVIDENCE_SHARE` of the way from its baseline to its target; without
one the scorer says why the measure cannot show it yet (a note), and the score stands on that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

Direction = Literal["increase", "decrease"]
DIRECTIONS: tuple[Direction, ...] = ("increase", "decrease")

# The lowest score that needs evidence, and how far towards the aim counts as evidence.
EVIDENCE_SCORE = 3.0
EVIDENCE_SHARE = 0.2


@dataclass(frozen=True)
class Aim:
    """Measure ``measure`` goes from ``baseline`` to ``target`` (``direction`` is better) by
    ``by``."""

    measure: str
    baseline: float
    target: float
    direction: Direction
    by: date | None = None

    def progress(self, value: float) -> float:
        """How far ``value`` is from the baseline towards the target (0 = baseline, 1 = there;
        negative when it moved the wrong way)."""
        return (value - self.baseline) / (self.target - self.baseline)


@dataclass(frozen=True)
class MeasureReading:
    """The measure's latest value on a date and how far towards the aim it is."""

    on: date
    value: float
    progress: float

    @property
    def is_evidence(self) -> bool:
        return self.progress >= EVIDENCE_SHARE


def aim_problems(
    measure: str, baseline: float | None, target: float | None, direction: str | None
) -> list[str]:
    """What stops these fields being a usable aim (empty: it is one)."""
    problems = []
    if not measure:
        problems.append("the aim needs a measure")
    if baseline is None or target is None:
        problems.append("the aim needs a baseline and a target")
    if direction not in DIRECTIONS:
        problems.append(f"the aim's direction is {direction!r}: one of increase, decrease")
    elif baseline is not None and target is not None:
        better = target > baseline if direction == "increase" else target < baseline
        if not better:
            article = "an" if direction == "increase" else "a"
            problems.append(
                f"a target of {target:g} from a baseline of {baseline:g} is not {article} "
                f"{direction}: check the direction"
            )
    return problems


def latest_reading(aim: Aim, series: Sequence[tuple[date, float]], on: date) -> MeasureReading:
    """The last value of ``series`` on or before ``on`` (none: raises LookupError).

    The latest value, not the best one: a score says where the project is now, and one good
    month long ago is not a modest improvement today.
    """
    known = sorted((d, v) for d, v in series if d <= on)
    if not known:
        raise LookupError(f"no value of {aim.measure} on or before {on.isoformat()}")
    day, value = known[-1]
    return MeasureReading(day, value, aim.progress(value))


def needs_evidence(score: float) -> bool:
    return score >= EVIDENCE_SCORE
