"""The monthly board report: figures from a real database, HTML, PDF (pdftoppm renders page 1).

Chromium and pdftoppm come from Debian's packages (`make test` installs them when missing).
Outside CI a machine without them skips the browser checks; in CI their absence is a failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select

from tests.utils.evaluation_trust import AS_OF, seed_trust, write_extracts
from wardprog.config import Settings
from wardprog.models import (
    Notification,
    TriageCategory,
    TriageItem,
    TriageStatus,
    Ward,
    WardEnrolment,
)
from wardprog.models.base import require_id
from wardprog.reports.board import (
    board_data,
    board_paths,
    print_pdf,
    render_board,
    report_month,
    write_board_html,
)
from wardprog.rules.metrics import METRICS

IN_CI = os.environ.get("CI", "").lower() in {"1", "true"}


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    if IN_CI:
        pytest.fail(f"{names[0]} is required in CI (Debian packages chromium, poppler-utils)")
    pytest.skip(f"{names[0]} not installed")


def _seed(session: Session, settings: Settings) -> None:
    from wardprog import clock

    with clock.running_on(AS_OF):  # the trust as it stood on the board's date
        _seed_on_the_day(session, settings)


def _seed_on_the_day(session: Session, settings: Settings) -> None:
    seed_trust(session)
    write_extracts(Path(settings.extracts_dir))
    ward = session.exec(select(Ward).where(Ward.code == "S1-W1")).one()
    enrolment = session.exec(select(WardEnrolment).where(WardEnrolment.ward_id == ward.id)).one()
    session.add(
        TriageItem(
            ward_id=require_id(ward),
            wave_id=enrolment.wave_id,
            issue="Bed rails <b>broken</b> on bay 3",
            issue_key="rails",
            category=TriageCategory.change,
            owner="Estates",
            escalated_to="Medicine directorate",
            due_date=date(2026, 8, 1),
            status=TriageStatus.open,
        )
    )
    session.commit()


def test_report_month_is_the_last_complete_month() -> None:
    assert report_month(date(2026, 7, 1)) == date(2026, 6, 1)
    assert report_month(date(2026, 7, 20)) == date(2026, 6, 1)
    assert report_month(date(2027, 1, 1)) == date(2026, 12, 1)


def test_board_figures_and_html(session: Session, settings: Settings) -> None:
    _seed(session, settings)
    data = board_data(session, settings, AS_OF)
    assert data.month == "2026-06"
    assert set(data.evaluation.estimates) == {m.key for m in METRICS}
    falls = data.evaluation.estimates["falls_per_1000_obd"]
    assert falls.significant and falls.effect is not None and falls.effect < 0
    assert "falls_per_1000_obd" in data.improving and "sickness_pct" in data.improving
    assert [e["escalated_to"] for e in data.escalations] == ["Medicine directorate"]
    assert {m["metric"] for m in data.mdc} == {m.key for m in METRICS}
    assert all(c["icon"].startswith("concern_") for c in data.concerns)
    assert [r["label"] for r in data.dashboard.by_wave] == [f"Wave {n}" for n in (1, 2, 3, 4)]

    html = render_board(data)
    assert "board report, June 2026" in html
    assert html.count('class="estimate"') == len(METRICS)
    assert "Falls per 1,000 occupied bed days is" in html and "(an improvement)" in html
    assert "Bed rails &lt;b&gt;broken&lt;/b&gt;" in html  # staff text is escaped
    assert 'id="mdc-matrix"' in html and 'class="mdc-icon"' in html
    assert 'aria-label="Common cause variation: no significant change"' in html


def test_board_lists_trust_wide_themes(session: Session, settings: Settings) -> None:
    from wardprog import clock
    from wardprog.services.themes import refresh_themes

    _seed(session, settings)
    other = session.exec(select(Ward).where(Ward.code == "S1-W2")).one()
    enrolment = session.exec(select(WardEnrolment).where(WardEnrolment.ward_id == other.id)).one()
    with clock.running_on(AS_OF):  # raised by the board's date (the board reads as of it)
        session.add(
            TriageItem(
                ward_id=require_id(other),
                wave_id=enrolment.wave_id,
                issue="Broken bed rails in bay 3",
                issue_key="rails-2",
                category=TriageCategory.change,
                status=TriageStatus.open,
            )
        )
    session.flush()
    refresh_themes(session, settings, AS_OF)
    session.commit()
    html = render_board(board_data(session, settings, AS_OF))
    assert 'id="themes-table"' in html and "Bed rails &lt;b&gt;broken&lt;/b&gt; on bay 3" in html
    assert '<td class="num">2</td>' in html.split('id="themes-table"', 1)[1]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_too_early_to_answer_prints_no_numbers(session: Session, settings: Settings) -> None:
    _seed(session, settings)
    data = board_data(session, settings, date(2025, 2, 1))
    assert data.estimable == 0
    html = render_board(data)
    assert "the data cannot answer yet (too few wards have joined" in html


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pdf_opens_and_page_one_renders(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    chromium = _tool("chromium", "chromium-browser")
    pdftoppm = _tool("pdftoppm")
    _seed(session, settings)
    _, html_path = write_board_html(session, settings, AS_OF)
    assert html_path == board_paths(settings, AS_OF)[0]
    assert html_path.name == "2026-06.html" and html_path.parent.name == "board"
    pdf = print_pdf(html_path, board_paths(settings, AS_OF)[1], chromium)
    assert pdf.name == "2026-06.pdf" and pdf.read_bytes()[:5] == b"%PDF-"
    subprocess.run(
        [pdftoppm, "-f", "1", "-l", "1", "-png", "-r", "60", str(pdf), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) == 1
    png = pages[0].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_two_pdfs_in_one_process_share_one_browser(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    from wardprog.reports import pdf

    chromium = _tool("chromium", "chromium-browser")
    _seed(session, settings)
    _, html_path = write_board_html(session, settings, AS_OF)
    pdf.close_browsers()  # start from no open browser
    before = pdf.printer_stats()["launches"]
    first = print_pdf(html_path, tmp_path / "first.pdf", chromium)
    second = print_pdf(html_path, tmp_path / "second.pdf", chromium)
    stats = pdf.printer_stats()
    assert stats["launches"] == before + 1 and stats["printed"] == {chromium: 2}
    assert first.read_bytes()[:5] == second.read_bytes()[:5] == b"%PDF-"
    # The caller's thread keeps no event loop of Playwright's: asyncio still runs here.
    asyncio.run(asyncio.sleep(0))
    pdf.close_browsers()
    assert pdf.printer_stats()["printed"] == {}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pdf_without_playwright_prints_with_a_subprocess(
    session: Session,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from wardprog.reports import pdf

    chromium = _tool("chromium", "chromium-browser")
    _seed(session, settings)
    _, html_path = write_board_html(session, settings, AS_OF)
    pdf.close_browsers()

    def no_driver(*_: object) -> None:
        raise RuntimeError("no Playwright driver")

    monkeypatch.setattr(pdf, "_launch", no_driver)
    with caplog.at_level("WARNING", logger=pdf.__name__):
        out = print_pdf(html_path, tmp_path / "board.pdf", chromium)
    assert out.read_bytes()[:5] == b"%PDF-"
    assert [r.getMessage() for r in caplog.records] == [
        "Playwright could not start Chromium (no Playwright driver): printing each PDF with a "
        "Chromium subprocess instead"
    ]
    pdf.close_browsers()  # forget the failure: later tests use a browser


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_board_flow_writes_sends_once_and_publishes(session: Session, settings: Settings) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.board import board_report

    _seed(session, settings)
    first = board_report(as_of=AS_OF)
    again = board_report(as_of=AS_OF)
    assert Path(first["html"]).exists()
    notes = session.exec(select(Notification).where(Notification.kind == "board_report")).all()
    assert len(notes) == 1 and first["notification"] == again["notification"] == notes[0].id
    note = notes[0]
    assert note.tags == ["improvement-team"]
    assert "Board report June 2026" in note.subject
    assert note.attachments and note.attachments[0]["filename"].startswith("2026-06.")
    if first["pdf"]:
        assert note.attachments[0]["content_type"] == "application/pdf"

    async def artifact_exists() -> bool:
        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["board-report-2026-06"]))
            )
            return bool(found)

    assert asyncio.run(artifact_exists())
