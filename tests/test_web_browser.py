"""A ward manager and the team, in a real browser, using only the links in their messages.

The demo trust's first ward is taken from its engagement invite to "all fixes done, projects
scored, nominees trained": the manager opens the link from the invite's .eml, records the
event as held, uploads the
triage template, marks every fix done, scores every project, sees a tracker with a bad row
refused with the row named, nominates two staff; the team (its own link) takes every teaching
day's register and records the projects presented. The database is checked after each step.
Headless Chromium is Debian's (`make test` installs it), driven by Playwright.
"""

from __future__ import annotations

import email
import os
import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from tests.utils.web_server import serving
from wardprog import config
from wardprog.config import Settings
from wardprog.db import get_engine, session_scope
from wardprog.demo.runner import prepare_demo, write_register
from wardprog.models import (
    NominationStatus,
    QsirAttendance,
    QsirCohort,
    QsirNomination,
    Stage,
    TriageCategory,
    TriageItem,
    TriageStatus,
    Ward,
    WardEnrolment,
)
from wardprog.models.base import require_id
from wardprog.notify.dispatch import dispatch_pending
from wardprog.services.context import context_for_ward
from wardprog.services.enrolment import after_stage, run_stage
from wardprog.services.programme import get_programme, open_wave
from wardprog.services.qsir import evaluate_completion
from wardprog.web.app import create_app
from wardprog.web.links import TEAM_SCOPE, issue, url_for

pytestmark = pytest.mark.slow
LAUNCH, AFTER_EVENT = date(2026, 1, 2), date(2026, 3, 2)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI", "").lower() in {"1", "true"}:
            pytest.fail("Chromium is required in CI (Debian package `chromium`)")
        pytest.skip("chromium not installed")
    return found


def _invite_link(outbox: Path, ward: str) -> str:
    for eml in sorted((outbox / ward).glob("*.eml")):
        message = email.message_from_bytes(eml.read_bytes())
        if "engagement" not in str(message["Subject"]).lower():
            continue
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                text = payload.decode()
                found = re.search(r"https?://\S+/w/" + ward + r"\?t=\S+", text)
                if found:
                    return found.group(0)
    raise AssertionError(f"no ward link in {ward}'s invite")


def _stage(settings: Settings, ward: str, stage: Stage, as_of: date, done: bool = True) -> None:
    engine = get_engine(settings.database_url)
    with Session(engine) as session:
        enrolment = session.exec(select(WardEnrolment).join(Ward).where(Ward.code == ward)).one()
    assert run_stage(engine, settings, require_id(enrolment), stage, as_of).done is done
    # The wave's shared step, as its flow runs it.
    after_stage(engine, settings, stage, as_of, enrolment.wave_id)


def _items(settings: Settings, ward: str, category: TriageCategory) -> list[TriageItem]:
    with Session(get_engine(settings.database_url)) as session:
        return list(
            session.exec(
                select(TriageItem)
                .join(Ward)
                .where(Ward.code == ward, TriageItem.category == category)
                .order_by(col(TriageItem.id))
            ).all()
        )


def test_a_ward_from_invite_to_trained(
    fresh_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import sync_playwright

    chromium = _chromium()
    monkeypatch.setenv("WARDPROG_WEB_SECRET", "browser-test-" + "k" * 40)
    config.get_settings.cache_clear()
    settings = config.get_settings()
    prepare_demo(settings, LAUNCH, date(2026, 12, 31), write_register(tmp_path / "w.csv", 1))
    engine = get_engine(settings.database_url)
    with session_scope(engine) as session:
        open_wave(session, settings, get_programme(session), LAUNCH)
        ward = session.exec(select(Ward.code).order_by(col(Ward.code))).first()
    assert ward is not None
    _stage(settings, ward, Stage.diagnostic, LAUNCH)
    _stage(settings, ward, Stage.engagement, LAUNCH, done=False)  # invited; held comes later
    dispatch_pending(engine, settings)
    link = _invite_link(settings.outbox_dir, ward)

    # The triage template the ward's staff filled in at their event.
    with session_scope(engine) as session:
        from wardprog.demo.triage_responses import drop_filled_template

        filled = drop_filled_template(context_for_ward(session, settings, ward, AFTER_EVENT))
    template = tmp_path / filled.name
    shutil.move(filled, template)

    app = create_app(settings, today=AFTER_EVENT)
    with serving(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(base + link[link.index("/w/") :])
        # With JavaScript on, the page drops the token from the address bar.
        assert page.url == f"{base}/w/{ward}"
        assert ward in page.locator("h1").inner_text()
        # The event has taken place: the manager records it, and the engagement stage completes.
        page.locator("#attendees").fill("12")
        page.get_by_role("button", name="Record event held").click()
        assert "held" in page.locator(".flash").inner_text()
        _stage(settings, ward, Stage.engagement, AFTER_EVENT)
        page.locator('input[name="file"]').set_input_files(str(template))
        page.get_by_role("button", name="Upload").click()
        assert "received" in page.locator(".flash").inner_text()
        _stage(settings, ward, Stage.triage, AFTER_EVENT)

        page.goto(f"{base}/w/{ward}")
        fixes = _items(settings, ward, TriageCategory.fix)
        assert fixes
        for item in fixes:
            card = page.locator(f"#item-{item.id}")
            card.get_by_placeholder("What was done").fill(f"Sorted: {item.issue[:30]}")
            card.get_by_role("button", name="Mark done").click()
        assert {i.status for i in _items(settings, ward, TriageCategory.fix)} == {
            TriageStatus.closed
        }

        projects = _items(settings, ward, TriageCategory.improve)
        assert projects
        for item in projects:
            card = page.locator(f"#item-{item.id}")
            card.get_by_label("New IHI score").select_option("3.5")
            card.get_by_label("Why", exact=True).fill("Audit shows the change working")
            # 3.5 needs evidence: the ward's monthly extract lags, so the coach says why.
            card.get_by_role("textbox", name="Evidence note").fill(
                "The ward's daily audit shows it; the monthly extract lags"
            )
            card.get_by_role("button", name="Update score").click()
            assert "3.5" in page.locator(f"#item-{item.id}").inner_text()

        # A tracker with one bad row: refused whole, the row named, nothing recorded.
        bad = tmp_path / f"tracker-{ward}.csv"
        bad.write_text(
            "Item id,Issue,Category,Owner,Due date,Latest IHI score,Status,What was done,"
            f"Date done,New score,Why\n{projects[0].id},x,improve,,,3.5,open,,,9.0,nope\n"
        )
        page.locator('input[name="file"]').set_input_files(str(bad))
        page.get_by_role("button", name="Upload").click()
        flash = page.locator(".flash.error").inner_text()
        assert "row 2" in flash and "not recorded" in flash

        page.locator("#staff").select_option(index=[0, 1])
        page.get_by_role("button", name="Nominate").click()
        assert "2 nominated" in page.locator(".flash").inner_text()
        _stage(settings, ward, Stage.qsir, AFTER_EVENT)

        with session_scope(engine) as session:
            token, grant = issue(
                session, settings, email="priya.raman@trust.example", name="Priya", scope=TEAM_SCOPE
            )
            nominations = session.exec(select(QsirNomination)).all()
            assert {n.status for n in nominations} == {NominationStatus.booked}
            cohort = session.get(QsirCohort, nominations[0].cohort_id)
            assert cohort is not None
            days = [date.fromisoformat(d) for d in cohort.session_dates]
        team = browser.new_page()
        team.goto(base + url_for(settings, grant, token).removeprefix(settings.web_url))
        for day in days:
            team.goto(f"{base}/team?on={day.isoformat()}")
            card = team.locator("form", has_text=day.strftime("%-d %b %Y")).first
            for box in card.locator('input[name="present"]').all():
                box.check()
            if day == days[-1]:
                for box in card.locator('input[name="presented"]').all():
                    box.check()
            card.get_by_role("button", name="Save register").click()
            assert "2 present" in team.locator(".flash").inner_text()
        browser.close()

    with session_scope(engine) as session:
        attended = session.exec(select(QsirAttendance)).all()
        assert len(attended) == 2 * len(days) and all(a.attended for a in attended)
        evaluate_completion(session, days[-1])
    with Session(engine) as session:
        statuses = {n.status for n in session.exec(select(QsirNomination)).all()}
    assert statuses == {NominationStatus.completed}
    assert all(i.status is TriageStatus.closed for i in _items(settings, ward, TriageCategory.fix))
