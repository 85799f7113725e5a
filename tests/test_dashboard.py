"""The programme dashboard: real rows in, HTML out, rendered by headless Chromium.

Chromium comes from Debian's package (`make test` installs it when missing). Outside CI a
machine without it skips the browser check; in CI its absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.utils.factories import make_context
from wardprog import clock
from wardprog.config import Settings
from wardprog.models import (
    ImprovementScore,
    NominationStatus,
    QsirNomination,
    StaffMember,
    Stage,
    TriageCategory,
    TriageItem,
    TriageStatus,
    Ward,
)
from wardprog.models.base import require_id
from wardprog.reports.dashboard import dashboard_data, write_dashboard

AS_OF = date(2026, 6, 1)


def _seed(session: Session, settings: Settings) -> None:
    # Written on the programme's clock in January, as a run on that day would date them.
    with clock.simulated(clock.day_start(date(2026, 1, 5))):
        _seed_rows(session, settings)


def _seed_rows(session: Session, settings: Settings) -> None:
    ctx = make_context(session, settings, as_of=date(2026, 1, 5))
    ctx.enrolment.stage = Stage.complete
    wave, ward = ctx.wave, ctx.ward

    def item(
        n: int, category: TriageCategory, status: TriageStatus, due: date | None
    ) -> TriageItem:
        row = TriageItem(
            ward_id=require_id(ward),
            wave_id=require_id(wave),
            issue=f"Issue {n} <script>alert(1)</script>",
            issue_key=f"k{n}",
            category=category,
            status=status,
            due_date=due,
            owner="Ward manager",
        )
        session.add(row)
        session.flush()
        return row

    item(1, TriageCategory.fix, TriageStatus.closed, date(2026, 2, 1))
    item(2, TriageCategory.fix, TriageStatus.open, date(2026, 3, 1))  # overdue on AS_OF
    item(3, TriageCategory.change, TriageStatus.open, None)
    for n, (score, status) in enumerate([(3.5, TriageStatus.closed), (2.0, TriageStatus.closed)]):
        project = item(10 + n, TriageCategory.improve, status, None)
        for s in (0.5, score):
            session.add(
                ImprovementScore(
                    triage_item_id=project.id,
                    score=s,
                    scored_by="QI coach",
                    scored_on=date(2026, 1, 10) if s == 0.5 else date(2026, 5, 1),
                )
            )
    staff = StaffMember(staff_number="E1", name="Nurse One", ward_id=ward.id)
    session.add(staff)
    session.flush()
    session.add(
        # Trained when the completion rule was met, as `wardprog status` counts it.
        QsirNomination(
            staff_id=require_id(staff),
            ward_id=require_id(ward),
            status=NominationStatus.completed,
            completed_on=date(2026, 5, 1),
        )
    )
    session.commit()


def test_dashboard_figures(session: Session, settings: Settings) -> None:
    _seed(session, settings)
    data = dashboard_data(session, settings, AS_OF)
    assert data.fixes_closed_pct == 50.0
    assert [o["issue"] for o in data.overdue] == ["Issue 2 <script>alert(1)</script>"]
    assert (data.projects_completed, data.projects_at_target, data.ihi_share) == (2, 1, 0.5)
    assert data.trained == 1 and data.target_trained == settings.qsir_target_trained
    assert data.by_wave[0]["counts"] == {"complete": 1}


def test_dashboard_names_metrics_as_the_packs_do_and_labels_counts(
    session: Session, settings: Settings
) -> None:
    from wardprog.models import DiagnosticSnapshot
    from wardprog.reports.dashboard import render_dashboard

    _seed(session, settings)
    ctx_ward = session.exec(select(Ward)).first()
    assert ctx_ward is not None
    session.add(
        DiagnosticSnapshot(
            ward_id=require_id(ctx_ward),
            as_of=date(2026, 1, 5),
            signals=[
                {"metric": "rn_night_fill_pct", "point_type": "special_cause_concerning"},
                {"metric": "chppd", "point_type": "special_cause_improving"},
            ],
        )
    )
    session.commit()
    html = render_dashboard(dashboard_data(session, settings, AS_OF))
    spc = html[html.index('id="spc"') :]
    assert "Registered nurse fill rate (night)" in spc
    assert "rn_night_fill_pct" not in spc and ">chppd<" not in spc
    ihi = html[html.index('id="ihi"') : html.index('id="qsir"')]
    # Every score's bar carries its count (two projects scored 2.0 and 3.5).
    assert ihi.count('class="count"') == 10 and ">1</text>" in ihi and ">0</text>" in ihi
    stages = html[html.index("wave-row") :]
    assert 'class="count"' in stages[: stages.index("</tr>")]


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and os.environ.get("CI", "").lower() in {"1", "true"}:
        pytest.fail("Chromium is required in CI (Debian package `chromium`)")
    return found


def _chrome(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'chrome-profile'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dashboard_renders_in_headless_chromium(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    binary = _chromium()
    if binary is None:
        pytest.skip("Chromium not installed")
    _seed(session, settings)
    path = write_dashboard(session, settings, AS_OF)
    html = path.read_text()
    assert "<script>alert(1)</script>" not in html  # staff text is escaped
    dom = _chrome(binary, tmp_path, "--dump-dom", path.resolve().as_uri()).stdout
    assert 'id="qsir-trained">1<' in dom
    assert 'id="overdue-count"' in dom and ">1</strong>" in dom
    assert 'id="fixes-closed">50%<' in dom
    assert 'id="ihi-share"' in dom and ">50%<" in dom
    assert dom.count("<svg") >= 5  # charts drew
    shot = tmp_path / "dashboard.png"
    _chrome(
        binary, tmp_path, f"--screenshot={shot}", "--window-size=1280,1000", path.resolve().as_uri()
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_overdue_items_listed_per_ward_with_a_link_to_its_own_list(
    session: Session, settings: Settings
) -> None:
    from wardprog.reports.dashboard import render_dashboard

    _seed(session, settings)
    data = dashboard_data(session, settings, AS_OF)
    code = data.overdue[0]["ward"]
    assert [(w["ward"], w["count"]) for w in data.overdue_wards] == [(code, 1)]
    html = render_dashboard(data)
    # Every overdue item is on the page (nothing hidden behind "... and N more").
    assert f'href="#overdue-{code}"' in html and f'id="overdue-{code}"' in html
    served = settings.model_copy(update={"web_url": "https://wards.trust.example"})
    links = render_dashboard(dashboard_data(session, served, AS_OF))
    assert f'href="https://wards.trust.example/w/{code}">ward page' in links
