from datetime import date

from wardprog.rules.working_days import (
    first_working_day_of_month,
    is_working_day,
    quarter_launch_dates,
)


def test_england_bank_holidays_and_weekends():
    assert not is_working_day(date(2026, 12, 25))  # Christmas Day
    assert not is_working_day(date(2026, 12, 28))  # Boxing Day substitute (26th is a Saturday)
    assert not is_working_day(date(2026, 4, 3))  # Good Friday
    assert not is_working_day(date(2026, 11, 21))  # Saturday
    assert is_working_day(date(2026, 11, 23))


def test_first_working_day_skips_new_year_and_easter():
    assert first_working_day_of_month(2026, 1) == date(2026, 1, 2)
    assert first_working_day_of_month(2027, 1) == date(2027, 1, 4)  # 1st Fri is New Year's Day
    assert first_working_day_of_month(2024, 4) == date(2024, 4, 2)  # Easter Monday 1 April 2024


def test_quarter_launch_dates():
    assert quarter_launch_dates(date(2026, 1, 1), date(2026, 12, 31)) == [
        date(2026, 1, 2),
        date(2026, 4, 1),
        date(2026, 7, 1),
        date(2026, 10, 1),
    ]
