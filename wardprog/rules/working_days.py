"""Working days in England: no weekends, no England bank holidays (the `holidays` package)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache


@lru_cache(maxsize=64)
def england_bank_holidays_of(year: int) -> frozenset[date]:
    """England's bank holidays in ``year`` (not Scotland's, Wales' or NI's), substitute days too.

    The one source of bank holidays for every rule (working days, engagement slots, teaching
    days). Imported on first use: the package loads every country's calendar (about 0.1 s),
    and commands that only read the programme never count a working day.
    """
    from holidays.countries.united_kingdom import UnitedKingdom

    return frozenset(UnitedKingdom(subdiv="ENG", years=year))


@lru_cache(maxsize=256)
def england_bank_holidays(first: date, last: date) -> frozenset[date]:
    """England's bank holidays between ``first`` and ``last`` inclusive.

    Cached: slot finding and cohort planning ask for the same spans on every ward's stage.
    """
    return frozenset(
        day
        for year in range(first.year, last.year + 1)
        for day in england_bank_holidays_of(year)
        if first <= day <= last
    )


def is_bank_holiday(day: date) -> bool:
    return day in england_bank_holidays_of(day.year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_bank_holiday(day)


def next_working_day(day: date) -> date:
    """``day`` itself if it is a working day, else the next one."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def first_working_day_of_month(year: int, month: int) -> date:
    return next_working_day(date(year, month, 1))


def quarter_launch_dates(start: date, end: date) -> list[date]:
    """First working day of each calendar quarter between ``start`` and ``end`` inclusive."""
    days = []
    for year in range(start.year, end.year + 1):
        for month in (1, 4, 7, 10):
            day = first_working_day_of_month(year, month)
            if start <= day <= end:
                days.append(day)
    return days
