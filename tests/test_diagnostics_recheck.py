"""Before/after re-check: 3 and 6 months after the engagement event, on both databases."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlmodel import Session, select

from flows.diagnostics import publish_pack_artifacts, recheck_due_wards
from tests.utils.factories import make_context, make_site, make_ward
from wardprog.config import Settings
from wardprog.errors import WardprogError
from wardprog.models import DiagnosticSnapshot, EngagementEvent
from wardprog.models.base import require_id
from wardprog.rules.rechecks import recheck_kind
from wardprog.services.context import StageContext
from wardprog.services.diagnostics import (
    due_rechecks,
    prepare_rechecks,
    run_diagnostic_stage,
    run_recheck,
)
from wardprog.sources.synthetic import generate_extracts

EVENT = date(2026, 2, 10)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("recheck")
    generate_extracts([("RC-W01", "RC", 26)], folder, date(2023, 1, 1), date(2026, 12, 31), seed=5)
    # Falls double from March 2026, after the event: the re-check must call it a concern.
    incidents = pd.read_csv(folder / "incidents.csv", dtype=str)
    extra = []
    for month in pd.date_range("2026-03-01", "2026-09-01", freq="MS"):
        for i in range(12):
            extra.append(
                {
                    "incident_id": f"X{month:%Y%m}{i:02d}",
                    "ward_code": "RC-W01",
                    "date": (month + pd.Timedelta(days=i)).strftime("%Y-%m-%d"),
                    "category": "fall",
                    "harm_level": "low",
                }
            )
    pd.concat([incidents, pd.DataFrame(extra)]).to_csv(folder / "incidents.csv", index=False)
    return folder


def _ctx(session: Session, settings: Settings, template: Path) -> StageContext:
    shutil.copytree(template, settings.extracts_dir, dirs_exist_ok=True)
    site = make_site(session, code="RC", name="Riverside")
    ward = make_ward(session, site, code="RC-W01")
    return make_context(session, settings, as_of=date(2026, 1, 5), site=site, ward=ward)


def test_recheck_kind() -> None:
    assert recheck_kind(EVENT, date(2026, 5, 9)) is None
    assert recheck_kind(EVENT, date(2026, 5, 10)) == "recheck_3m"
    assert recheck_kind(EVENT, date(2026, 8, 10)) == "recheck_6m"


def test_recheck_needs_an_event(session: Session, settings: Settings, template: Path) -> None:
    ctx = _ctx(session, settings, template)
    with pytest.raises(WardprogError, match="no engagement event"):
        run_recheck(session, settings, ctx.ward.code, date(2026, 6, 1))


def test_recheck_from_event_row_finds_concern_and_is_idempotent(
    session: Session, settings: Settings, template: Path
) -> None:
    ctx = _ctx(session, settings, template)
    session.add(
        EngagementEvent(
            ward_id=require_id(ctx.ward),
            wave_id=require_id(ctx.wave),
            starts_at=datetime(2026, 2, 10, 14, 0, tzinfo=UTC),
            ends_at=datetime(2026, 2, 10, 15, 30, tzinfo=UTC),
            uid="evt-rc-w01@wardprog",
        )
    )
    session.flush()
    early = run_recheck(session, settings, "RC-W01", date(2026, 4, 1))
    assert early.kind is None and not early.created

    result = run_recheck(session, settings, "RC-W01", date(2026, 6, 3))
    assert result.kind == "recheck_3m" and result.created
    assert result.event_date == EVENT
    falls = {c.metric: c for c in result.changes}["falls_per_1000_obd"]
    assert falls.verdict == "concern"
    assert falls.after_points == 3  # March, April, May 2026
    assert falls.after_mean is not None and falls.before_mean is not None
    assert falls.after_mean > falls.before_mean
    snap = session.get(DiagnosticSnapshot, result.snapshot_id)
    assert snap is not None and snap.kind == "recheck_3m"
    assert snap.metrics["rebased_at"] == "2026-03-01"
    points = snap.metrics["metrics"]["falls_per_1000_obd"]["points"]
    assert points[-1]["rebase_group"] == 1 and points[0]["rebase_group"] == 0
    assert "falls" in result.markdown().lower()

    again = run_recheck(session, settings, "RC-W01", date(2026, 6, 20))
    assert again.snapshot_id == result.snapshot_id and not again.created
    six = run_recheck(session, settings, "RC-W01", date(2026, 8, 12))
    assert six.kind == "recheck_6m" and six.created
    kinds = session.exec(select(DiagnosticSnapshot.kind)).all()
    assert sorted(kinds) == ["recheck_3m", "recheck_6m"]


def test_recheck_flow_and_pack_artifacts(
    session: Session, settings: Settings, template: Path, prefect_harness: None
) -> None:
    ctx = _ctx(session, settings, template)
    outcome = run_diagnostic_stage(ctx)
    ctx.enrolment.engagement_at = datetime(2026, 2, 10, 10, 0, tzinfo=UTC)
    session.add(ctx.enrolment)
    session.commit()

    markdown = publish_pack_artifacts(ctx.ward.code, outcome.details["snapshot_id"])
    assert "# Diagnostic pack" in markdown and "RC-W01" in markdown

    assert due_rechecks(session, date(2026, 5, 1)) == []
    assert due_rechecks(session, date(2026, 6, 3)) == ["RC-W01"]
    [result] = recheck_due_wards(date(2026, 6, 3))
    assert result["kind"] == "recheck_3m" and result["created"]
    assert "falls_per_1000_obd" in result["concerns"]
    assert recheck_due_wards(date(2026, 6, 4)) == []
    session.expire_all()
    kinds = sorted(session.exec(select(DiagnosticSnapshot.kind)).all())
    assert kinds == ["baseline", "recheck_3m"]


def test_recheck_refuses_impossible_data_and_stays_due(
    session: Session, settings: Settings, template: Path
) -> None:
    from wardprog.models import Notification

    ctx = _ctx(session, settings, template)
    session.add(
        EngagementEvent(
            ward_id=require_id(ctx.ward),
            wave_id=require_id(ctx.wave),
            starts_at=datetime(2026, 2, 10, 14, 0, tzinfo=UTC),
            ends_at=datetime(2026, 2, 10, 15, 30, tzinfo=UTC),
            uid="evt-rc-w01-refused@wardprog",
        )
    )
    session.flush()
    fft = pd.read_csv(settings.extracts_dir / "fft.csv", dtype=str)
    fft.loc[0, "positive"] = str(int(fft["responses"].loc[0]) * 3)
    fft.to_csv(settings.extracts_dir / "fft.csv", index=False)
    result = run_recheck(session, settings, "RC-W01", date(2026, 6, 3))
    assert result.kind is None and not result.created and "refused" in result.message
    assert session.exec(select(DiagnosticSnapshot)).all() == []
    (note,) = session.exec(select(Notification)).all()
    assert note.kind == "extract_refused" and "fft.csv, row 2" in note.body_text


def test_verdicts_go_to_the_ward_and_team_once_and_on_the_dashboard(
    session: Session, settings: Settings, template: Path, prefect_harness: None
) -> None:
    from flows.rechecks import recheck_due
    from wardprog.models import Notification
    from wardprog.reports.dashboard import write_dashboard
    from wardprog.services.engagement import record_event_held

    ctx = _ctx(session, settings, template)
    event = EngagementEvent(
        ward_id=require_id(ctx.ward),
        wave_id=require_id(ctx.wave),
        starts_at=datetime(2026, 2, 10, 14, 0, tzinfo=UTC),
        ends_at=datetime(2026, 2, 10, 15, 30, tzinfo=UTC),
        uid="evt-rc-w01@wardprog",
    )
    session.add(event)
    session.flush()
    # Held a week late: the re-check counts from the day it really took place.
    record_event_held(session, require_id(event), date(2026, 2, 17), date(2026, 2, 17), attendees=9)
    session.commit()
    assert recheck_due(date(2026, 5, 16)) == {"rechecked": 0, "wards": []}
    assert recheck_due(date(2026, 5, 18)) == {"rechecked": 1, "wards": ["RC-W01"]}
    assert recheck_due(date(2026, 5, 19))["rechecked"] == 0  # done: never twice
    session.expire_all()
    (note,) = session.exec(select(Notification).where(Notification.kind == "recheck_verdict")).all()
    assert note.recipients == [ctx.ward.manager_email]
    assert {"RC-W01", "improvement-team"} <= set(note.tags)
    assert "3-month re-check" in note.subject and "1 of concern" in note.subject
    assert "What is a concern" in note.body_text and "Falls" in note.body_text
    assert "17 February 2026" in note.body_text
    html = write_dashboard(session, settings, date(2026, 5, 19)).read_text()
    assert 'data-ward="RC-W01"' in html and "2026-02-17" in html
    # Read as of a day before the re-check, the dashboard has no verdict for the ward yet.
    from wardprog.services.diagnostics import latest_rechecks

    assert [r["ward_code"] for r in latest_rechecks(session)] == ["RC-W01"]
    assert latest_rechecks(session, date(2026, 5, 17)) == []


def test_a_recheck_read_with_its_days_batch_equals_one_read_alone(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    """The daily run reads the due wards' rows once and charts wards sharing a period together;
    each ward's verdict, message and snapshot are what re-checking it on its own gives."""
    from tests.utils.factories import make_enrolment

    codes = ["RB-W01", "RB-W02", "RB-W03", "RB-W04"]
    generate_extracts(
        [(c, "RB", 20 + i) for i, c in enumerate(codes)],
        settings.extracts_dir,
        date(2023, 1, 1),
        date(2026, 12, 31),
        seed=11,
    )
    ctx = make_context(session, settings, as_of=date(2026, 1, 5))
    site = ctx.site
    # W01 and W02 share a period (events in February); W03's is March's; W04 is not due.
    events = {
        "RB-W01": datetime(2026, 2, 10, 14, 0, tzinfo=UTC),
        "RB-W02": datetime(2026, 2, 24, 9, 0, tzinfo=UTC),
        "RB-W03": datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        "RB-W04": datetime(2026, 5, 20, 9, 0, tzinfo=UTC),
    }
    for code, starts in events.items():
        ward = make_ward(session, site, code=code)
        make_enrolment(session, ward, ctx.wave)
        session.add(
            EngagementEvent(
                ward_id=require_id(ward),
                wave_id=require_id(ctx.wave),
                starts_at=starts,
                ends_at=starts,
                uid=f"evt-{code.lower()}@wardprog",
            )
        )
    session.flush()
    as_of = date(2026, 6, 15)
    due = due_rechecks(session, as_of)
    assert due == ["RB-W01", "RB-W02", "RB-W03"]

    def seen(result: Any) -> dict[str, Any]:
        snap = session.get(DiagnosticSnapshot, result.snapshot_id)
        assert snap is not None and result.created
        content = (snap.kind, snap.period_start, snap.period_end, snap.metrics, snap.signals)
        return {
            "changes": result.changes,
            "message": result.message,
            "markdown": result.markdown(),
            "snapshot": (*content, snap.staff_survey),
        }

    alone = {}
    for code in due:
        alone[code] = seen(run_recheck(session, settings, code, as_of))
    for snap in session.exec(select(DiagnosticSnapshot)).all():
        session.delete(snap)
    session.flush()
    prepare_rechecks(session, settings, due, as_of)  # what the daily run does first
    batched = {code: seen(run_recheck(session, settings, code, as_of, due)) for code in due}
    assert batched == alone
    assert any(c.verdict != "no_change" for r in alone.values() for c in r["changes"])
