"""The engine's one clock: every timestamp wardprog writes comes from :func:`now`.

Production leaves it on the wall clock. An entry point that works *on a date* (a flow or CLI
command given ``as_of``, the demo's replay of a year) runs the clock on that day with
:func:`running_on`, so ``created_at`` columns, stage dates, ``closed_at`` and notification
times all tell the same story: a replay and production then agree by construction, and no
duration (closed minus created, scored minus created) can come out negative.

The simulated clock is a context variable, so it follows a flow's tasks into the worker threads
Prefect's ``ThreadPoolTaskRunner`` starts (it copies the context into each task) and never
leaks between two flows running side by side. Rules stay pure: they take dates as arguments.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from wardprog.config import TIMEZONE

# Where a simulated day starts: the working day's 09:00, when services.programme.on_day stamps
# a stage. A row written "on" a day then sorts with the stage it belongs to, and anything the
# day closes (17:00) or sends (the dispatcher's end of day) comes after it.
DAY_STARTS = time(9)
# The trust's zone, defined once in config (a name, so no settings are loaded here).
DEFAULT_TZ = TIMEZONE

_simulated: ContextVar[datetime | None] = ContextVar("wardprog_simulated_now", default=None)


def wall_now() -> datetime:
    """The real time, aware UTC: only for what must be judged against the real world."""
    return datetime.now(UTC)


def now() -> datetime:
    """The engine's current time, aware UTC (the simulated day's start when one is set)."""
    return _simulated.get() or wall_now()


def today(tz: str = DEFAULT_TZ) -> date:
    """The engine's current date in the trust's time zone."""
    return now().astimezone(ZoneInfo(tz)).date()


def is_simulated() -> bool:
    """True while an entry point runs the clock on a date other than the real one."""
    return _simulated.get() is not None


def day_start(day: date, tz: str = DEFAULT_TZ) -> datetime:
    """The moment a simulated ``day`` reads as now: its 09:00 in ``tz``, as aware UTC."""
    return datetime.combine(day, DAY_STARTS, tzinfo=ZoneInfo(tz)).astimezone(UTC)


@contextmanager
def simulated(moment: datetime) -> Iterator[datetime]:
    """Run the clock at ``moment`` (aware) until the block ends."""
    if moment.tzinfo is None:
        raise ValueError("the simulated clock needs an aware datetime")
    token = _simulated.set(moment.astimezone(UTC))
    try:
        yield moment
    finally:
        _simulated.reset(token)


@contextmanager
def running_on(as_of: date | None, tz: str = DEFAULT_TZ) -> Iterator[date]:
    """What an entry point given ``as_of`` wraps its work in; yields the date it runs on.

    No ``as_of`` (a scheduled deployment) or today's date: the wall clock, as before. A clock
    already running on ``as_of`` (the replay's tick around its flows) is kept. Any other date
    runs the clock at that day's start, so what the run writes is dated on the day it works on.
    """
    current = today(tz)
    if as_of is None or as_of == current:
        yield current
        return
    with simulated(day_start(as_of, tz)):
        yield as_of
