"""An improvement lead's audit of the demo database (issue #18): would they believe it?

The demo is produced the way `wardprog demo` produces it (the command itself, into a tmp
folder), once for the module; every test reads that database and its extracts. The figures
README's "What the demo trust looks like" quotes must be the ones this run gives (the demo is
deterministic, so a README taken from another run still matches).
"""

from __future__ import annotations

import fcntl
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from wardprog.cli import app
from wardprog.db import get_engine
from wardprog.demo.area import DemoArea
from wardprog.demo.figures import chppd_by_group, demo_figures, markdown
from wardprog.demo.triage_responses import issue_bank
from wardprog.models import (
    ChangeDecision,
    ImprovementProject,
    ImprovementScore,
    Notification,
    ProjectStatus,
    TriageCategory,
    TriageItem,
    Ward,
    WardEnrolment,
)
from wardprog.rules.metrics import ward_month_metrics
from wardprog.rules.slots import to_utc
from wardprog.sources.extracts import load_folder
from wardprog.sources.synthetic import PROFILES, specialty_group

# One demo for the whole run (see the `demo` fixture), built in the first test's setup: minutes,
# more on a loaded machine.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("demo"), pytest.mark.timeout(1800)]

START, END = date(2026, 1, 2), date(2026, 12, 31)
README = Path(__file__).resolve().parent.parent / "README.md"
# Metrics that are rates or percentages: none can be below zero.
RATES = (
    "chppd",
    "rn_day_fill_pct",
    "rn_night_fill_pct",
    "hca_day_fill_pct",
    "hca_night_fill_pct",
    "falls_per_1000_obd",
    "pressure_ulcers_per_1000_obd",
    "sickness_pct",
    "vacancy_pct",
    "turnover_pct",
    "fft_positive_pct",
)


@pytest.fixture(scope="module")
def demo(
    prefect_harness: None, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Iterator[DemoArea]:
    """The demo, built once per test run: xdist workers share one folder under a file lock.

    `make test` schedules with worksteal, which may hand these tests to both workers; the
    second waits for the first's demo instead of building its own.
    """
    root = tmp_path_factory.getbasetemp()
    if worker_id != "master":
        root = root.parent  # the run's temp root, shared by every worker
    folder, built = root / "demo-audit" / "demo", root / "demo-audit.built"
    with open(root / "demo-audit.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            result = CliRunner().invoke(
                app,
                ["demo", "--fresh", "--dir", str(folder), "--start", START.isoformat(),
                 "--end", END.isoformat()],
            )  # fmt: skip
            assert result.exit_code == 0, result.output
            built.touch()
    yield DemoArea(folder)


@pytest.fixture(scope="module")
def db(demo: DemoArea) -> Iterator[Session]:
    with Session(get_engine(demo.settings().database_url)) as session:
        yield session


@pytest.fixture(scope="module")
def monthly(demo: DemoArea, db: Session) -> pd.DataFrame:
    """Every ward-month metric of the demo's three years of extracts, with its specialty."""
    extracts = load_folder(demo.settings().extracts_dir, use_cache=False)
    frame = ward_month_metrics(extracts.tables, date(2024, 1, 1), END)
    groups = {w.code: specialty_group(w.specialty) for w in db.exec(select(Ward)).all()}
    return frame.assign(group=frame["ward_code"].map(groups))


def test_no_rate_is_negative(monthly: pd.DataFrame) -> None:
    rates = monthly[monthly["metric"].isin(RATES)].dropna(subset=["value"])
    assert not rates.empty
    negative = rates[rates["value"] < 0]
    assert negative.empty, negative.head().to_string()


def test_chppd_and_falls_follow_the_specialty(monthly: pd.DataFrame) -> None:
    wards = monthly.groupby(["group", "ward_code", "metric"])["value"].mean().unstack("metric")
    assert set(wards.index.get_level_values("group")) == set(PROFILES)
    for group, profile in PROFILES.items():
        low, high = profile.chppd
        chppd = wards["chppd"].loc[group]  # this group's wards
        outside = chppd[(chppd < low) | (chppd > high)]
        assert outside.empty, f"{group} CHPPD outside {low}-{high}: {outside.round(2).to_dict()}"
    median = wards.groupby("group").median()
    chppd_median = median["chppd"]
    assert chppd_median["critical care"] > 24 > chppd_median["paediatrics"] > 10
    assert 7 <= chppd_median["adult medicine"] <= 9
    falls = median["falls_per_1000_obd"]
    assert falls["paediatrics"] * 4 < falls["elderly care"]
    assert falls["maternity"] * 4 < falls["adult medicine"]


def test_staff_raise_many_issues_that_fit_their_ward(db: Session) -> None:
    items = db.exec(select(TriageItem, Ward).where(TriageItem.ward_id == Ward.id)).all()
    texts = {item.issue for item, _ in items}
    assert len(texts) >= 150
    categories: dict[str, set[TriageCategory]] = defaultdict(set)
    wards_raising: dict[str, set[str]] = defaultdict(set)
    bank = {i.issue: i for i in issue_bank()}
    for item, ward in items:
        categories[item.issue].add(item.category)
        wards_raising[item.issue].add(ward.code)
        assert bank[item.issue].fits(specialty_group(ward.specialty)), (item.issue, ward.code)
    # The same problem is a fix on one ward and a change request on another...
    assert sum(1 for c in categories.values() if len(c) > 1) >= 10
    # ...and a few trust-wide problems come up on many wards (themes are real).
    assert sum(1 for w in wards_raising.values() if len(w) >= 10) >= 3
    hoists = [w for item, w in items if "hoist" in item.issue.lower()]
    assert hoists and all(
        specialty_group(w.specialty) in ("adult medicine", "elderly care", "surgery")
        for w in hoists
    )


def test_projects_stall_go_down_or_stop_and_complete_only_at_three_or_more(db: Session) -> None:
    projects = db.exec(select(ImprovementProject)).all()
    stopped = [p for p in projects if p.status is ProjectStatus.stopped]
    assert stopped and all(p.stop_reason for p in stopped)
    scores: dict[int | None, list[float]] = defaultdict(list)
    history = select(ImprovementScore).order_by(
        col(ImprovementScore.triage_item_id), col(ImprovementScore.scored_on)
    )
    for s in db.exec(history).all():
        scores[s.triage_item_id].append(s.score)
    assert any(any(b < a for a, b in pairwise(s)) for s in scores.values())
    completed = [p for p in projects if p.status is ProjectStatus.completed]
    assert completed and all(scores[p.triage_item_id or 0][-1] >= 3.0 for p in completed)
    # Completions spread over months, not one day per wave.
    assert len({p.completed_on.replace(day=1) for p in completed if p.completed_on}) >= 3


def test_change_decisions_are_spread_out(db: Session) -> None:
    changes = db.exec(select(TriageItem).where(TriageItem.category == TriageCategory.change)).all()
    decided = [c for c in changes if c.decision is not None]
    assert {c.decision for c in decided} == set(ChangeDecision)
    assert any(c.decision is None for c in changes)  # some still waiting
    on_review = [c for c in decided if c.decided_on == c.review_date]
    assert len(on_review) < len(decided) / 2
    assert any(c.decided_on and c.review_date and c.decided_on < c.review_date for c in decided)


def test_readme_quotes_this_run(demo: DemoArea, db: Session) -> None:
    """Deterministic: the figures README shows (from `make demo`) are this run's figures."""
    text = README.read_text(encoding="utf-8")
    section = re.search(
        r"<!-- demo-figures:start.*?-->\n(.*?)\n<!-- demo-figures:end -->", text, re.S
    )
    assert section, "README has no generated demo figures section"
    chppd = chppd_by_group(db, demo.settings().extracts_dir)
    assert section.group(1).strip() == markdown(demo_figures(db), chppd).strip()


def test_no_negative_durations(db: Session) -> None:
    """One clock: nothing closed, scored, staged or sent before it was raised or written."""
    items = {i.id: i for i in db.exec(select(TriageItem)).all()}
    negative = [
        i.id
        for i in items.values()
        if i.closed_at is not None and to_utc(i.closed_at) < to_utc(i.created_at)
    ]
    assert not negative
    for score in db.exec(select(ImprovementScore)).all():
        item = items.get(score.triage_item_id)
        if item is not None:
            assert score.scored_on >= to_utc(item.created_at).date(), (score.id, item.issue)
    for note in db.exec(select(Notification)).all():
        if note.sent_at is not None:
            assert to_utc(note.sent_at) >= to_utc(note.created_at), note.idempotency_key
    for enrolment in db.exec(select(WardEnrolment)).all():
        stamped = [
            d
            for d in (enrolment.enrolled_at, enrolment.diagnostic_at, enrolment.engagement_at,
                      enrolment.triage_at, enrolment.qsir_at, enrolment.completed_at)
            if d is not None
        ]  # fmt: skip
        days = [to_utc(d).date() for d in stamped]
        assert days == sorted(days), enrolment.ward_id


def test_status_and_the_dashboard_agree_mid_year_and_at_the_end(
    demo: DemoArea, db: Session
) -> None:
    from tests.test_programme_e2e import _status_agrees_with_dashboard

    for day in (date(2026, 6, 30), END):
        _status_agrees_with_dashboard(db, demo.settings(), day)
