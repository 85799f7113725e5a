"""Making Data Count icons in the diagnostic pack, the dashboard and the board report.

Each page is opened in headless Chromium (Debian's package; `make test` installs it): the DOM
after layout must hold every icon as an SVG with its meaning as alt text and a drawn size, and a
screenshot must show the page. Outside CI a machine without Chromium skips; in CI it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.utils.evaluation_trust import AS_OF, seed_trust, write_extracts
from wardprog.config import Settings
from wardprog.models import DiagnosticSnapshot, Site, Ward, WardEnrolment
from wardprog.models.base import require_id
from wardprog.reports.board import CHROMIUM_FLAGS, write_board_html
from wardprog.reports.dashboard import write_dashboard
from wardprog.reports.diagnostic_pack import render_pack, write_pack
from wardprog.reports.icons import MEANINGS, icon_svg
from wardprog.rules.metrics import ward_month_metrics
from wardprog.services.diagnostics import _pack_context, charts_for, find_signals, metrics_json
from wardprog.sources.extracts import load_folder

# Appended to a copy of each page: after layout, record every icon's name, alt text and size.
PROBE = """<script>
document.body.setAttribute("data-icons", JSON.stringify(
  Array.from(document.querySelectorAll("svg.mdc-icon")).map(function (s) {
    var r = s.getBoundingClientRect();
    return [s.getAttribute("data-icon"), s.getAttribute("aria-label"),
            s.querySelector("title").textContent, r.width, r.height];
  })));
</script>"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI", "").lower() in {"1", "true"}:
            pytest.fail("Chromium is required in CI (Debian package `chromium`)")
        pytest.skip("Chromium not installed")
    return found


def _chrome(binary: str, profile: Path, *args: str) -> str:
    return subprocess.run(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


def _icons_in_browser(binary: str, page: Path, tmp_path: Path) -> list[list[Any]]:
    probe = tmp_path / f"probe-{page.name}"
    probe.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    dom = _chrome(binary, tmp_path / "profile", "--dump-dom", probe.resolve().as_uri())
    found = re.search(r'data-icons="([^"]*)"', dom)
    assert found, "probe did not run"
    icons = json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    shot = tmp_path / f"{page.stem}.png"
    _chrome(
        binary,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,1400",
        page.resolve().as_uri(),
    )
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    return icons


def _check(icons: list[list[Any]]) -> set[str]:
    assert icons, "no icons on the page"
    for name, label, title, width, height in icons:
        assert name in MEANINGS
        assert label == title == MEANINGS[str(name)]
        assert float(width) > 10 and float(height) > 10
    return {str(i[0]) for i in icons}


def test_every_icon_has_its_meaning_as_alt_text() -> None:
    for name, text in MEANINGS.items():
        svg = str(icon_svg(name, 40))
        assert f'data-icon="{name}"' in svg and f'aria-label="{text}"' in svg
        assert f"<title>{text}</title>" in svg and 'role="img"' in svg
    assert str(icon_svg(None)) == "" and str(icon_svg("no-such-icon")) == ""
    assert ">H</text>" in str(icon_svg("concern_high")) and ">L<" in str(icon_svg("concern_low"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_icons_render_in_pack_dashboard_and_board_report(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    binary = _chromium()
    seed_trust(session)
    write_extracts(Path(settings.extracts_dir))
    tables = load_folder(Path(settings.extracts_dir), use_cache=False).tables
    ward, site = session.exec(
        select(Ward, Site).where(Ward.site_id == Site.id, Ward.code == "S1-W1")
    ).one()
    enrolment = session.exec(select(WardEnrolment).where(WardEnrolment.ward_id == ward.id)).one()
    mj = metrics_json(charts_for(ward_month_metrics(tables, date(2024, 1, 1), date(2026, 6, 30))))
    snap = DiagnosticSnapshot(
        ward_id=require_id(ward),
        wave_id=enrolment.wave_id,
        kind="baseline",
        as_of=AS_OF,
        period_start=date(2024, 1, 1),
        period_end=date(2026, 6, 30),
        metrics={"metrics": mj, "sources": {}},
        signals=find_signals(mj, recent_months=30),
        staff_survey={"survey_year": None},
    )
    session.add(snap)
    session.commit()
    assert snap.signals, "the ward's charts should carry signals for the dashboard"

    pack = write_pack(tmp_path / "pack.html", render_pack(_pack_context(ward, site, 1, snap)))
    pack_icons = _check(_icons_in_browser(binary, pack, tmp_path))
    assert {"consistent_pass", "consistent_fail", "inconsistent"} <= pack_icons  # the legend

    dashboard = write_dashboard(session, settings, AS_OF)
    _check(_icons_in_browser(binary, dashboard, tmp_path))

    _, board = write_board_html(session, settings, AS_OF)
    board_icons = _check(_icons_in_browser(binary, board, tmp_path))
    assert "common_cause" in board_icons
