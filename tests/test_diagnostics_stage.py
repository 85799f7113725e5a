"""The diagnostic stage end to end (SQLite and PostgreSQL): extracts, snapshot, pack, outbox."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import Session, select

from tests.utils.factories import make_context, make_site, make_ward
from wardprog.config import Settings
from wardprog.models import DiagnosticSnapshot, Notification
from wardprog.rules.metrics import baseline_period
from wardprog.services.context import StageContext
from wardprog.services.diagnostics import (
    check_extract_wards,
    load_extracts,
    run_diagnostic_stage,
)
from wardprog.sources.extracts import clear_cache, load_folder
from wardprog.sources.synthetic import generate_extracts

AS_OF = date(2026, 1, 5)


@pytest.fixture(scope="module")
def extracts_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small set of extracts for wards S1-W01..S1-W03, copied into each test's folder."""
    folder = tmp_path_factory.mktemp("extracts")
    wards = [(f"DX-W0{i}", "DX", 24 + i) for i in range(1, 4)]
    generate_extracts(wards, folder, date(2022, 10, 1), date(2026, 6, 30), seed=11)
    return folder


def _ctx(session: Session, settings: Settings, extracts_template: Path) -> StageContext:
    settings.extracts_dir.mkdir(parents=True, exist_ok=True)
    for f in extracts_template.iterdir():
        (settings.extracts_dir / f.name).write_bytes(f.read_bytes())
    site = make_site(session, code="DX", name="Demo General")
    for i in (2, 3):
        make_ward(session, site, code=f"DX-W0{i}")
    ward = make_ward(session, site, code="DX-W01", name="Ash Ward")
    return make_context(session, settings, as_of=AS_OF, site=site, ward=ward)


def test_baseline_period_is_36_complete_months() -> None:
    assert baseline_period(date(2026, 1, 5)) == (date(2023, 1, 1), date(2025, 12, 31))
    assert baseline_period(date(2026, 3, 1)) == (date(2023, 3, 1), date(2026, 2, 28))


def test_stage_writes_snapshot_pack_and_notification_once(
    session: Session, settings: Settings, extracts_template: Path
) -> None:
    ctx = _ctx(session, settings, extracts_template)
    outcome = run_diagnostic_stage(ctx)
    assert outcome.done
    snaps = session.exec(select(DiagnosticSnapshot)).all()
    assert len(snaps) == 1
    snap = snaps[0]
    assert snap.kind == "baseline" and snap.wave_id == ctx.wave.id
    assert (snap.period_start, snap.period_end) == (date(2023, 1, 1), date(2025, 12, 31))
    metrics = snap.metrics["metrics"]
    assert {"rn_day_fill_pct", "chppd", "falls_per_1000_obd", "fft_positive_pct"} <= set(metrics)
    assert len(metrics["chppd"]["points"]) == 36
    assert outcome.details["signals"] == len(snap.signals)

    pack = Path(snap.pack_path or "")
    assert pack == settings.output_dir / "packs" / "DX-W01.html"
    html = pack.read_text()
    assert "<svg" in html and "Signals to bring to the engagement event" in html
    assert "Ash Ward" in html

    notes = session.exec(select(Notification)).all()
    assert len(notes) == 1
    note = notes[0]
    assert note.kind == "diagnostic_pack_ready"
    assert note.tags == ["DX-W01"] and note.recipients == [ctx.ward.manager_email]
    assert "Ash Ward" in note.subject
    assert note.attachments[0]["filename"] == "diagnostic-pack-DX-W01.html"

    # Idempotent even with a later as_of: same ward, same wave -> nothing new.
    ctx.as_of = date(2026, 2, 20)
    again = run_diagnostic_stage(ctx)
    assert again.done and again.details["snapshot_id"] == snap.id
    assert len(session.exec(select(DiagnosticSnapshot)).all()) == 1
    assert len(session.exec(select(Notification)).all()) == 1


def test_rows_for_wards_outside_the_programme_are_skipped_with_one_line(
    session: Session, settings: Settings, extracts_template: Path
) -> None:
    ctx = _ctx(session, settings, extracts_template)
    fft = settings.extracts_dir / "fft.csv"
    frame = pd.read_csv(fft, dtype=str)
    extra = frame.iloc[:3].assign(ward_code="ZZ-W99")
    pd.concat([frame, extra]).to_csv(fft, index=False)
    outcome = run_diagnostic_stage(ctx)
    assert outcome.done
    line = check_extract_wards(session, load_extracts(settings))
    assert line == "skipped 3 extract rows for 1 ward(s) not in the register (ZZ-W99)"


def test_folder_load_is_cached_until_a_file_changes(
    settings: Settings, extracts_template: Path, tmp_path: Path
) -> None:
    clear_cache()
    folder = tmp_path / "cached"
    folder.mkdir()
    for f in extracts_template.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    first = load_folder(folder)
    assert load_folder(folder) is first
    complaints = folder / "complaints.csv"
    complaints.write_text(complaints.read_text() + "CMPX,DX-W01,2025-06-03\n")
    reloaded = load_folder(folder)
    assert reloaded is not first
    assert len(reloaded["complaints"]) == len(first["complaints"]) + 1


def test_ward_without_data_still_gets_a_pack(
    session: Session, settings: Settings, extracts_template: Path
) -> None:
    """A new ward in the register with no history yet: an honest empty pack, not a crash."""
    ctx = _ctx(session, settings, extracts_template)
    newcomer = make_ward(session, ctx.site, code="DX-W09", name="New <b>Ward</b>")
    new_ctx = make_context(
        session, settings, as_of=AS_OF, site=ctx.site, ward=newcomer, wave=ctx.wave
    )
    outcome = run_diagnostic_stage(new_ctx)
    assert outcome.done and outcome.details["signals"] == 0
    html = Path(outcome.details["pack_path"]).read_text()
    # Names are escaped in the pack: nothing typed into the register becomes markup.
    assert "New &lt;b&gt;Ward&lt;/b&gt;" in html and "<b>Ward" not in html
    assert "The extracts hold no data for this ward" in html
    assert "No staff on this ward responded" in html
