"""The quarterly launch schedule fires on the first working day of each quarter, and the
deployments in prefect.yaml are the ones the code defines."""

from datetime import timedelta
from pathlib import Path

import yaml
from prefect.client.schemas.schedules import RRuleSchedule

from schedules.wave_launch import TIMEZONE, launch_days, wave_launch_rrule
from wardprog.rules.working_days import quarter_launch_dates

ROOT = Path(__file__).resolve().parent.parent


def test_rrule_fires_on_first_working_day_of_each_quarter():
    days = launch_days()
    assert days == quarter_launch_dates(days[0].replace(month=1, day=1), days[-1])
    assert len(days) == 40  # ten years of quarters


def test_prefect_yaml_carries_the_generated_rule_and_prefect_accepts_it():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    launch = next(d for d in spec["deployments"] if d["name"] == "quarterly-wave-launch")
    schedule = launch["schedules"][0]
    assert schedule["rrule"] == wave_launch_rrule()
    assert schedule["timezone"] == TIMEZONE
    occurrences = list(RRuleSchedule(rrule=schedule["rrule"], timezone=TIMEZONE).to_rrule())
    first = occurrences[0]
    assert (first.date().isoformat(), first.hour) == ("2026-01-02", 7)
    assert first.utcoffset() == timedelta(0)
    assert occurrences[1].utcoffset() == timedelta(hours=1)  # 1 April: BST, still 07:00 local


def test_every_deployment_entrypoint_exists():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for dep in spec["deployments"]:
        path, func = dep["entrypoint"].split(":")
        assert f"def {func}(" in (ROOT / path).read_text(), dep["entrypoint"]
