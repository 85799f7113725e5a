"""The scorecard on the dashboard and in the improvement-team digest, from records made
through the commands; the dashboard rendered by headless Chromium (as tests/test_dashboard)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.test_dashboard import _chrome, _chromium
from tests.utils.programme import Ward, ward_in_programme
from wardprog import commands as c
from wardprog.config import Settings
from wardprog.reports.dashboard import dashboard_data, write_dashboard
from wardprog.services.handlers import handle
from wardprog.services.scorecard import kpi_trends, month_ends

AS_OF = date(2026, 6, 15)
QI = {"name": "QI team"}


@pytest.fixture
def ward(session: Session, settings: Settings, tmp_path: Path) -> Ward:
    return ward_in_programme(session, settings, tmp_path)


def _seed(engine: Engine, ward: Ward) -> None:
    """Projects: the ward's item (scored 3.5, completed) + 3 started by command."""
    for title, ppi, on in (("A", "involved", date(2026, 1, 5)), ("B", "none", date(2026, 2, 5)),
                           ("C", "consulted", date(2026, 3, 5))):  # fmt: skip
        r = handle(engine, c.build(c.StartProject, actor=QI, on=on, title=title, ppi_level=ppi))
        handle(engine, c.build(c.LogCoaching, actor=QI, on=on, adviser="Priya", minutes=30,
                               project_id=r.details["project_id"]))  # fmt: skip
    handle(engine, c.build(c.ScoreProject, actor=QI, on=date(2026, 4, 1), item_id=ward.improve,
                           score=3.5, why="Shift", evidence_note="Audit is monthly"))  # fmt: skip
    handle(engine, c.build(c.CloseItem, actor=QI, on=date(2026, 4, 20), item_id=ward.improve,
                           outcome="Done"))  # fmt: skip
    for month in range(1, 7):
        handle(engine, c.build(c.RecordQiEvent, actor=QI, on=date(2026, month, 10),
                               event_kind="qi_cafe", topic="Café"))  # fmt: skip


def test_scorecard_on_the_dashboard(session: Session, settings: Settings, ward: Ward,
                                    engine: Engine) -> None:  # fmt: skip
    _seed(engine, ward)
    session.expire_all()
    rows = {k["kpi"]: k for k in dashboard_data(session, settings, AS_OF).scorecard}
    # 4 projects (item + A, B, C): PPI on A and C; all but the item coached; one completed.
    assert (rows["projects_with_ppi_pct"]["numerator"],
            rows["projects_with_ppi_pct"]["denominator"]) == (2, 4)  # fmt: skip
    assert rows["projects_coached"]["numerator"] == 3
    assert rows["completed_projects_modest_improvement_pct"]["value"] == 100.0
    assert rows["qi_cafe_months_held"]["numerator"] == 6
    trend = kpi_trends(session, settings, AS_OF)["qi_cafe_months_held"]
    assert [p["value"] for p in trend["points"]][-6:] == [1, 2, 3, 4, 5, 6]
    assert month_ends(date(2026, 3, 15), 3) == [date(2026, 1, 31), date(2026, 2, 28),
                                                date(2026, 3, 15)]  # fmt: skip


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_scorecard_renders_in_headless_chromium(
    session: Session, settings: Settings, ward: Ward, engine: Engine, tmp_path: Path
) -> None:
    binary = _chromium()
    if binary is None:
        pytest.skip("Chromium not installed")
    _seed(engine, ward)
    session.expire_all()
    path = write_dashboard(session, settings, AS_OF)
    dom = _chrome(binary, tmp_path, "--dump-dom", path.resolve().as_uri()).stdout
    assert 'id="scorecard"' in dom
    for kpi in ("completed_projects_modest_improvement_pct", "projects_with_ppi_pct",
                "staff_trained", "projects_coached", "qi_cafe_months_held",
                "projects_with_sustainability_pct"):  # fmt: skip
        assert f'id="kpi-{kpi}"' in dom
    row = dom.split('id="kpi-projects_with_ppi_pct"')[1].split("</tr>")[0]
    assert "50.0%" in row and "2 / 4" in row and ">met<" in row
    cafe = dom.split('id="kpi-qi_cafe_months_held"')[1].split("</tr>")[0]
    assert ">6<" in cafe and "6 / 12" in cafe and "not yet" in cafe and "<svg" in cafe
    assert dom.count("<svg") >= 11  # the dashboard's charts and six trends


def test_scorecard_in_the_improvement_team_digest(
    session: Session, settings: Settings, ward: Ward, engine: Engine
) -> None:
    from wardprog.notify.digest import enqueue_improvement_team_digest

    _seed(engine, ward)
    session.expire_all()
    note = enqueue_improvement_team_digest(session, settings, AS_OF)
    session.commit()
    assert "QI strategy scorecard:" in note.body_text
    assert "Projects with patient and public involvement: 50.0% (target 20%; 2 of 4) met" in (
        note.body_text
    )
    assert "Months with a QI Café held (last 12): 6 (target 12; 6 of 12) not yet" in note.body_text
    assert "QI strategy scorecard" in note.body_html
