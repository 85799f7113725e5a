"""A project's measure chart: its ward metric from the diagnostic extracts with the PDSA dates
marked, rendered in the ward's pack, and the same chart `wardprog spc` gives for the series."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from sqlmodel import Session
from typer.testing import CliRunner

from tests.utils.factories import make_context, make_site, make_ward
from wardprog.cli import app
from wardprog.config import Settings
from wardprog.models import ImprovementProject
from wardprog.rules.metrics import METRICS_BY_KEY
from wardprog.rules.spc import spc
from wardprog.services.diagnostics import run_diagnostic_stage
from wardprog.services.projects.charts import ChartInput, chart_dict, charts_together, metric_series
from wardprog.services.spc_points import POINT_COLUMNS, chart_point, records
from wardprog.sources.synthetic import generate_extracts

runner = CliRunner()
AS_OF = date(2026, 1, 5)


@pytest.fixture(scope="module")
def extracts_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("extracts")
    generate_extracts([("PX-W01", "PX", 26)], folder, date(2022, 10, 1), date(2026, 6, 30), seed=5)
    return folder


def ok(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def ward_code(session: Session, settings: Settings, extracts_template: Path) -> str:
    settings.extracts_dir.mkdir(parents=True, exist_ok=True)
    for f in extracts_template.iterdir():
        (settings.extracts_dir / f.name).write_bytes(f.read_bytes())
    site = make_site(session, code="PX", name="Project General")
    ward = make_ward(session, site, code="PX-W01", name="Oak Ward")
    ctx = make_context(session, settings, as_of=AS_OF, site=site, ward=ward)
    assert run_diagnostic_stage(ctx).done
    session.commit()
    return ward.code


def test_measure_chart_in_the_pack_matches_spc(
    session: Session, settings: Settings, ward_code: str, tmp_path: Path
) -> None:
    out = json.loads(ok("projects", "start", "Fewer falls at night", "--ward", ward_code,
                        "--metric", "falls_per_1000_obd", "--rebase", "--by", "QI", "--on",
                        "2026-01-10", "--json"))  # fmt: skip
    pid = out["details"]["project_id"]
    ok("pdsa", "add", pid, "--plan", "Rounding", "--by", "S", "--on", "2026-02-03")
    ok("pdsa", "add", pid, "--plan", "Hourly rounding", "--decision", "adopt", "--by", "S",
       "--on", "2026-03-02")  # fmt: skip
    points = [json.loads(line) for line in
              ok("projects", "chart", pid, "--metric", "falls_per_1000_obd", "--as-of",
                 "2026-06-15", "--json").splitlines()]  # fmt: skip
    assert points[-1]["month"] == "2026-05" and len(points) == 17  # a year before the project began
    assert {p["rebase_group"] for p in points} == {0, 1}
    assert next(p for p in points if p["rebase_group"] == 1)["month"] == "2026-03"

    # The same series through `wardprog spc`, rebased at the first adopted change.
    series = metric_series(settings, ward_code, "falls_per_1000_obd", date(2024, 1, 1),
                           date(2026, 5, 31))  # fmt: skip
    series = series.loc[series["month"] >= f"{points[0]['month']}-01"]
    csv = tmp_path / "falls.csv"
    series.assign(month=series["month"].dt.strftime("%Y-%m-%d")).to_csv(csv, index=False)
    spc = [json.loads(line) for line in
           ok("spc", csv, "--date-column", "month", "--value-column", "value", "--improvement",
              "decrease", "--rebase", "2026-03-01", "--json").splitlines()]  # fmt: skip
    assert [p["date"] for p in spc] == [p["date"] for p in points]
    for mine, theirs in zip(points, spc, strict=True):
        for key in ("value", "mean", "lpl", "upl"):
            assert mine[key] == pytest.approx(theirs[key], abs=1e-3), (mine["date"], key)
        assert mine["point_type"] == theirs["point_type"]
        assert mine["rule"] == theirs["special_cause_type"]

    path = Path(ok("projects", "pack", ward_code, "--as-of", "2026-06-15").strip())
    html = path.read_text()
    assert "Improvement projects: measure charts" in html
    assert f'id="project-{pid}-falls_per_1000_obd"' in html
    assert "PDSA 1 (2026-02-03): in progress" in html and "PDSA 2 (2026-03-02): adopt" in html
    assert "New limits from 2026-03-01, the first adopted change." in html
    assert html.count('class="pdsa"') == 2


def test_packs_refreshed_for_wards_with_measured_projects(
    session: Session, settings: Settings, ward_code: str
) -> None:
    from wardprog.services.projects.charts import refresh_project_packs

    assert refresh_project_packs(session, settings, date(2026, 6, 15)) == []
    ok("projects", "start", "Fewer complaints", "--ward", ward_code, "--metric", "complaints",
       "--by", "QI", "--on", "2026-01-10")  # fmt: skip
    session.expire_all()
    (path,) = refresh_project_packs(session, settings, date(2026, 6, 15))
    assert "Fewer complaints: Formal complaints" in path.read_text()


def test_a_ward_metric_aim_is_evidenced_from_the_extracts(
    session: Session, settings: Settings, ward_code: str
) -> None:
    """An aim on a ward diagnostic metric reads the same monthly series as the measure chart:
    scored on 3 June, the last whole month (May) is the reading, 50% or 10% of the way."""
    series = metric_series(settings, ward_code, "falls_per_1000_obd", date(2026, 1, 1),
                           date(2026, 5, 31))  # fmt: skip
    may = float(series["value"].iloc[-1])
    assert series["month"].iloc[-1].strftime("%Y-%m") == "2026-05"

    def start(title: str, baseline: float, target: float) -> int:
        out = json.loads(ok("projects", "start", title, "--ward", ward_code, "--aim-measure",
                            "falls_per_1000_obd", "--baseline", baseline, "--target", target,
                            "--direction", "decrease", "--by", "QI", "--on", "2026-01-10",
                            "--json"))  # fmt: skip
        return int(out["details"]["project_id"])

    halfway, barely = start("Halfway", may + 1.0, may - 1.0), start("Barely", may + 0.1, may - 0.9)
    out = json.loads(ok("projects", "score", halfway, 3.0, "--why", "Falls down", "--by", "QI",
                        "--on", "2026-06-03", "--json"))  # fmt: skip
    assert out["summary"].endswith(f"evidence falls_per_1000_obd = {may:g}")
    result = runner.invoke(app, ["projects", "score", str(barely), "3.0", "--why", "Falls down",
                                 "--by", "QI", "--on", "2026-06-03"])  # fmt: skip
    assert result.exit_code == 2 and "10% of the way" in result.stderr.replace("\n", " ")
    # The aim's ward metric is charted in the pack with the project's other measures.
    chart = json.loads(ok("projects", "--json").splitlines()[0])
    assert chart["metrics"] == "falls_per_1000_obd"


def test_one_metrics_pass_per_refresh_gives_each_chart_its_own_series(
    session: Session, settings: Settings, ward_code: str
) -> None:
    """Projects with different start dates (so different chart ranges) and metrics: the charts
    sliced from the refresh's single metrics pass equal each chart computed on its own."""
    from sqlmodel import col, select

    from wardprog.models import ImprovementProject, Ward
    from wardprog.services.projects.charts import (
        measure_chart,
        refresh_project_packs,
        ward_project_charts,
        write_ward_pack,
    )

    ok("projects", "start", "Fewer falls", "--ward", ward_code, "--metric", "falls_per_1000_obd",
       "--rebase", "--by", "QI", "--on", "2026-01-10")  # fmt: skip
    ok("projects", "start", "Fewer complaints", "--ward", ward_code, "--metric", "complaints",
       "--by", "QI", "--on", "2026-04-20")  # fmt: skip
    session.expire_all()
    as_of = date(2026, 6, 15)
    ward = session.exec(select(Ward).where(Ward.code == ward_code)).one()
    projects = session.exec(select(ImprovementProject).order_by(col(ImprovementProject.id))).all()
    one_by_one = [
        measure_chart(session, settings, p, metric, as_of) for p in projects for metric in p.metrics
    ]
    assert len(one_by_one) == 2 and one_by_one[0]["points"][0]["month"] == "2025-01"
    assert one_by_one[1]["points"][0]["month"] == "2025-04"
    assert ward_project_charts(session, settings, ward, as_of) == one_by_one
    (path,) = refresh_project_packs(session, settings, as_of)
    refreshed = path.read_bytes()
    assert write_ward_pack(session, settings, ward_code, as_of).read_bytes() == refreshed


_METRIC_KEYS = ("falls_per_1000_obd", "rn_day_fill_pct", "complaints", "chppd")


@st.composite
def _chart_inputs(draw: st.DrawFn) -> list[ChartInput]:
    """A refresh's worth of charts: any metric, any length (empty too), gaps, shared rebases."""
    months = pd.date_range("2025-01-01", periods=18, freq="MS")
    rebases = draw(st.lists(st.sampled_from(list(months)), max_size=2, unique=True))
    charts = []
    for _ in range(draw(st.integers(1, 6))):
        first = draw(st.integers(0, 17))
        n = draw(st.integers(0, 18 - first))
        values = draw(st.lists(st.one_of(st.none(), st.decimals(0, 40, places=1)), min_size=n,
                               max_size=n))  # fmt: skip
        series = pd.DataFrame({
            "month": months[first : first + n],
            "value": [float("nan") if v is None else float(v) for v in values],
        })  # fmt: skip
        rebase = draw(st.sampled_from([(), *[(r.date(),) for r in rebases]]))
        project = ImprovementProject(title="p", started_on=date(2026, 1, 1))
        charts.append(ChartInput(project, draw(st.sampled_from(_METRIC_KEYS)), series, [], rebase))
    return charts


@settings_(max_examples=60, deadline=None)
@given(_chart_inputs())
def test_charts_drawn_together_are_each_as_drawn_alone(charts: list[ChartInput]) -> None:
    """A refresh draws its charts in one SPC pass per set of rebase months: each chart must be
    what `spc` gives for that chart's series alone (the chart `wardprog spc` draws)."""
    for chart, together in zip(charts, charts_together(charts), strict=True):
        if chart.series.empty:
            assert together is None
            continue
        definition = METRICS_BY_KEY[chart.metric]
        alone = spc(chart.series["month"], chart.series["value"], rebase=chart.rebase,
                    improvement=definition.improvement, target=definition.target)  # fmt: skip
        assert together is not None
        assert chart_dict(chart, together, AS_OF) == chart_dict(chart, alone, AS_OF)
        # The points are read column by column: the same as pandas' records.
        assert [chart_point("m", r) for r in records(together, POINT_COLUMNS)] == [
            chart_point("m", r) for r in together[POINT_COLUMNS].to_dict("records")
        ]
