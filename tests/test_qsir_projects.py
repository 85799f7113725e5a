"""A QSIR nominee's course project linked to the ward's improve item it works on: one IHI score,
recorded once, counts for the ward's project and the QSIR project; bad links are refused."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from tests.utils.programme import Ward, ward_in_programme
from wardprog.cli import app
from wardprog.config import Settings
from wardprog.models import QsirNomination

runner = CliRunner()


@pytest.fixture
def ward(session: Session, settings: Settings, tmp_path: Path) -> Ward:
    return ward_in_programme(session, settings, tmp_path)


def test_link_then_one_score_counts_for_both(session: Session, ward: Ward) -> None:
    nominee = ward.nominees[0]
    bad = runner.invoke(app, ["qsir", "project", nominee, str(ward.fix), "--by", "QI coach"])
    assert bad.exit_code == 2 and "a QSIR project works on an improve item" in bad.stderr
    ok = runner.invoke(
        app, ["qsir", "project", nominee, str(ward.improve), "--by", "QI coach", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["details"]["ihi_score"] == 0.5
    session.expire_all()
    linked = session.exec(
        select(QsirNomination).where(col(QsirNomination.project_item_id).is_not(None))
    ).one()
    assert linked.project_item_id == ward.improve

    scored = runner.invoke(
        app, ["items", "score", str(ward.improve), "3.0", "--why", "Run chart shift",
              "--evidence-note", "The ward's daily audit shows it; the extract lags",
              "--by", "QI coach", "--on", date(2026, 5, 1).isoformat()],
    )  # fmt: skip
    assert scored.exit_code == 0, scored.output
    rows = [
        json.loads(line)
        for line in runner.invoke(app, ["qsir", "projects", "--json"]).output.splitlines()
    ]
    mine = next(r for r in rows if r["staff_number"] == nominee)
    assert (mine["project_item_id"], mine["ihi_score"]) == (ward.improve, 3.0)
    other = next(r for r in rows if r["staff_number"] == ward.nominees[1])
    assert other["project_item_id"] is None and other["ihi_score"] is None
    items = [json.loads(x) for x in runner.invoke(app, ["items", "--json"]).output.splitlines()]
    assert next(i for i in items if i["id"] == ward.improve)["latest_score"] == 3.0
