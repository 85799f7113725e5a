"""Working days in England: no weekends, no England bank holidays (the `holidays` package)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import holidays


@lru_cache(maxsize=64)
def _england(year: int) -> holidays.HolidayBase:
    # Imported on first use: the package costs ~0.2 s at start (every country's calendar),
    # and commands that only read the programme (status, reports) never count working days.
    import holidays

    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def is_bank_holiday(day: date) -> bool:
    return day in _england(day.year)


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
