"""The escalation ladder for overdue change requests: pure, no I/O.

A change request starts with the ward's matron. Once its review is ``directorate_days``
overdue it climbs to the directorate lead, at ``executive_days`` to the trust executive. It
never climbs down (a later review date does not return it to the matron), and a rung with
nobody named in the owners register is skipped to the next one up.
"""

from __future__ import annotations

from dataclasses import dataclass

LADDER = ("matron", "directorate", "executive")


@dataclass(frozen=True)
class Ladder:
    directorate_days: int = 14
    executive_days: int = 42

    def __post_init__(self) -> None:
        if not 0 < self.directorate_days < self.executive_days:
            raise ValueError(
                "escalation days must rise: 0 < directorate "
                f"({self.directorate_days}) < executive ({self.executive_days})"
            )


def rank(level: str) -> int:
    """-1 for an item not on the ladder yet; 0 matron, 1 directorate, 2 executive."""
    return LADDER.index(level) if level in LADDER else -1


def level_due(days_overdue: int, ladder: Ladder) -> str:
    """The rung an item this many days overdue belongs on."""
    if days_overdue >= ladder.executive_days:
        return "executive"
    if days_overdue >= ladder.directorate_days:
        return "directorate"
    return "matron"


def next_level(current: str, days_overdue: int, ladder: Ladder, staffed: set[str]) -> str | None:
    """Where the item goes now, or None when it stays where it is.

    ``staffed``: the rungs that have somebody named for this ward. The item goes to the highest
    staffed rung at or below the one it is due on, and only ever upwards.
    """
    due = rank(level_due(days_overdue, ladder))
    for candidate in reversed(LADDER[: due + 1]):
        if candidate in staffed:
            return candidate if rank(candidate) > rank(current) else None
    return None
