"""The quarterly wave-launch schedule: 07:00 Europe/London on the first working day of each quarter.

No cron expression can say "first working day": the first weekday of a quarter is sometimes a
bank holiday (New Year's Day, Easter Monday). So the schedule is an RRULE for the first weekday
of January/April/July/October, with each bank-holiday occurrence replaced (EXDATE) by the next
working day (RDATE), computed with the `holidays` package for the years ahead. `prefect.yaml`
carries the rendered rule; `python -m schedules.wave_launch` prints it and a test keeps the two
in step.
"""

from __future__ import annotations

from datetime import date, datetime, time

from dateutil.rrule import rrulestr

# The schedule's zone is the trust's (re-exported for the deployment and its tests).
from wardprog.config import TIMEZONE as TIMEZONE
from wardprog.rules.working_days import is_working_day, next_working_day

LAUNCH_TIME = time(7, 0)
FIRST_YEAR = 2026
LAST_YEAR = 2035
BASE_RULE = (
    "FREQ=MONTHLY;BYMONTH=1,4,7,10;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1;BYHOUR=7;BYMINUTE=0;BYSECOND=0"
)


def _stamp(day: date) -> str:
    return datetime.combine(day, LAUNCH_TIME).strftime("%Y%m%dT%H%M%S")


def wave_launch_rrule(first_year: int = FIRST_YEAR, last_year: int = LAST_YEAR) -> str:
    start = date(first_year, 1, 1)
    until = date(last_year, 12, 31)
    lines = [f"DTSTART:{_stamp(start)}", f"RRULE:{BASE_RULE};UNTIL={_stamp(until)}"]
    weekdays = [
        d.date()
        for d in rrulestr("\n".join(lines))  # first weekday of each quarter
    ]
    moved = [(d, next_working_day(d)) for d in weekdays if not is_working_day(d)]
    if moved:
        lines.append("EXDATE:" + ",".join(_stamp(old) for old, _ in moved))
        lines.append("RDATE:" + ",".join(_stamp(new) for _, new in moved))
    return "\n".join(lines)


def launch_days(first_year: int = FIRST_YEAR, last_year: int = LAST_YEAR) -> list[date]:
    rule = rrulestr(wave_launch_rrule(first_year, last_year), forceset=True)
    return [d.date() for d in rule]


if __name__ == "__main__":
    print(wave_launch_rrule())
