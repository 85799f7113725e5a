"""The demo is sealed: it never reads, writes or messages a real deployment.

A throw-away "production" configuration (its database on SQLite or PostgreSQL holding a real
ward, an inbox with a returned file, an extracts folder, an apprise config) is set in the
environment, then the demo runs: every file and every row outside the demo's own folder is as
it was, and demo code refuses the real database outright.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.utils.factories import make_ward
from wardprog.cli import app
from wardprog.config import Settings
from wardprog.db import get_engine, session_scope
from wardprog.demo.area import MARKER, DemoArea, DemoAreaError
from wardprog.demo.runner import prepare_demo
from wardprog.migrate import upgrade
from wardprog.models import Installation, Ward
from wardprog.services.installation import NotADemoDatabaseError, claim_production
from wardprog.status import table_counts

runner = CliRunner()


def _real_deployment(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with session_scope(get_engine(settings.database_url)) as session:
        claim_production(session, "test: a trust's install")
        make_ward(session, code="REAL-1", manager_email="real.manager@nhs.example")
    returned = settings.inbox_dir / "REAL-1" / "triage" / "REAL-1-wave-1-triage.csv"
    returned.parent.mkdir(parents=True)
    returned.write_text("issue,category\nNo hoist on the ward,change\n")
    settings.extracts_dir.mkdir(parents=True)
    (settings.extracts_dir / "staffing.csv").write_text("ward_code,month\nREAL-1,2026-01-01\n")
    config = tmp_path / "apprise.yml"
    config.write_text("urls:\n  - json://127.0.0.1:9/:\n      tag: improvement-team\n")
    monkeypatch.setenv("WARDPROG_NOTIFY_CONFIG", str(config))


def _files(root: Path, skip: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and skip not in p.parents and p.suffix not in {".db", ".db-wal", ".db-shm"}
    }


def _rows(settings: Settings) -> tuple[dict[str, int], list[tuple[str, str]]]:
    with Session(get_engine(settings.database_url)) as session:
        wards = [(w.code, w.manager_email) for w in session.exec(select(Ward)).all()]
        return table_counts(session), wards


@pytest.mark.slow
def test_demo_leaves_a_real_deployment_untouched(
    settings: Settings, prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _real_deployment(settings, tmp_path, monkeypatch)
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    monkeypatch.chdir(checkout)  # the demo's default folder is var/demo/ under the checkout
    area = checkout / "var" / "demo"
    files_before, rows_before = _files(tmp_path, area), _rows(settings)

    day = "2026-01-02"
    result = runner.invoke(app, ["demo", "--start", day, "--end", day])
    assert result.exit_code == 0, result.output
    assert "ignores WARDPROG_DATABASE_URL" in result.output
    assert "WARDPROG_NOTIFY_CONFIG" in result.output

    assert _files(tmp_path, area) == files_before
    assert _rows(settings) == rows_before
    demo = DemoArea(area)
    assert demo.is_marked()
    with Session(get_engine(demo.settings().database_url)) as session:
        assert len(session.exec(select(Ward)).all()) == 60
        (installation,) = session.exec(select(Installation)).all()
        assert installation.kind == "demo"
    # Messages went to the demo's own outbox, not the configured apprise channel.
    assert list((area / "out" / "outbox").rglob("*.eml"))

    # `--demo` points any other command at the demo's database, not the environment's.
    status = runner.invoke(app, ["--demo", "status"])
    assert status.exit_code == 0, status.output
    assert "REAL-1" not in status.output and "NGH-ASH" in status.output


def test_demo_code_refuses_a_real_database(fresh_settings: Settings) -> None:
    settings = fresh_settings
    upgrade(settings.database_url)
    engine = get_engine(settings.database_url)
    with session_scope(engine) as session:
        make_ward(session, code="REAL-1")  # a database that predates the marker: wards, no claim
    before = _rows(settings)
    with pytest.raises(NotADemoDatabaseError, match="real deployment's database"):
        prepare_demo(settings, date(2026, 1, 2), date(2026, 3, 31))
    assert _rows(settings) == before  # refused before writing anything


def test_fresh_deletes_only_what_the_demo_made(tmp_path: Path) -> None:
    stranger = tmp_path / "reports"
    stranger.mkdir()
    (stranger / "board-pack.pdf").write_bytes(b"%PDF real")
    with pytest.raises(DemoAreaError, match=r"no \.wardprog-demo marker"):
        DemoArea(stranger).wipe()
    with pytest.raises(DemoAreaError, match="did not create"):
        DemoArea(stranger).create()
    assert (stranger / "board-pack.pdf").read_bytes() == b"%PDF real"
    assert not (stranger / MARKER).exists()

    ours = DemoArea(tmp_path / "demo")
    ours.create()
    (ours.root / "wardprog.db").write_bytes(b"")
    ours.wipe()
    assert not ours.root.exists() and stranger.exists()


def test_demo_settings_ignore_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WARDPROG_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/prod")
    monkeypatch.setenv("WARDPROG_NOTIFY_CONFIG", str(tmp_path / "apprise.yml"))
    monkeypatch.setenv("WARDPROG_INBOX_DIR", "/srv/wardprog/inbox")
    sealed = DemoArea(tmp_path / "demo").settings()
    root = (tmp_path / "demo").resolve()
    assert sealed.database_url == f"sqlite:///{root / 'wardprog.db'}"
    assert sealed.notify_config is None
    assert sealed.inbox_dir == root / "inbox"
