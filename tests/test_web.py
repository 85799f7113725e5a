"""The ward page and team page: signed links, scope, refusals, escaping; on both databases."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col
from typer.testing import CliRunner

from tests.utils.factories import make_context, make_ward
from wardprog import config
from wardprog.cli import app as cli_app
from wardprog.config import Settings
from wardprog.db import get_engine, session_scope
from wardprog.errors import ConfigError
from wardprog.models import ImprovementScore, TriageCategory, TriageItem
from wardprog.models.base import require_id
from wardprog.notify.outbox import enqueue
from wardprog.services.engagement import run_engagement_stage
from wardprog.web.app import create_app
from wardprog.web.links import TEAM_SCOPE, issue, revoke_links, url_for, ward_scope

SECRET = "test-secret-" + "x" * 40


@pytest.fixture
def web_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("WARDPROG_WEB_SECRET", SECRET)
    monkeypatch.setenv("WARDPROG_WEB_URL", "http://127.0.0.1:8080")
    config.get_settings.cache_clear()
    return config.get_settings()


@pytest.fixture
def wards(web_settings: Settings) -> dict[str, int]:
    """Two wards on one site; ASH has a fix, a scored project (with staff markup) and a change."""
    with session_scope(get_engine(web_settings.database_url)) as session:
        ctx = make_context(session, web_settings, as_of=date(2026, 1, 5))
        ctx.ward.code, ctx.ward.name = "NGH-ASH", "Ash Ward"
        make_ward(session, ctx.site, code="NGH-BEE", name="Beech Ward")
        session.flush()
        assert "engagement event" in run_engagement_stage(ctx).summary  # invited
        items = [
            TriageItem(
                ward_id=require_id(ctx.ward),
                wave_id=require_id(ctx.wave),
                issue=text,
                issue_key=f"k{n}",
                category=cat,
                due_date=date(2026, 3, 1),
            )
            for n, (text, cat) in enumerate(
                [
                    ("Sluice door sticks", TriageCategory.fix),
                    ("<script>alert('x')</script> handover", TriageCategory.improve),
                    ("One hoist for 28 beds", TriageCategory.change),
                ]
            )
        ]
        session.add_all(items)
        session.flush()
        session.add(
            ImprovementScore(
                triage_item_id=items[1].id, score=2.0, scored_by="Lead", scored_on=date(2026, 2, 1)
            )
        )
        fix, improve, change = (require_id(item) for item in items)
        return {"fix": fix, "improve": improve, "change": change}


def _link(settings: Settings, scope: str, email: str, now: datetime | None = None) -> str:
    with session_scope(get_engine(settings.database_url)) as session:
        token, grant = issue(session, settings, email=email, name="Ann", scope=scope, now=now)
    return url_for(settings, grant, token).removeprefix(settings.web_url)


def _client(settings: Settings) -> TestClient:
    return TestClient(create_app(settings, today=date(2026, 1, 5)), follow_redirects=False)


def test_ward_link_opens_own_ward_only(web_settings: Settings, wards: dict[str, int]) -> None:
    client = _client(web_settings)
    first = client.get(_link(web_settings, ward_scope("NGH-ASH"), "ann@trust.example"))
    assert first.status_code == 200 and "Ash Ward" in first.text
    assert first.headers["referrer-policy"] == "no-referrer"
    page = client.get("/w/NGH-ASH")  # the session cookie, no token
    assert page.status_code == 200 and "Ash Ward" in page.text
    assert "Sluice door sticks" in page.text and "One hoist for 28 beds" in page.text
    # Staff text is escaped: markup never reaches the page.
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    assert 'class="score-chart"' in page.text
    other = client.get("/w/NGH-BEE")
    assert other.status_code == 403 and "Beech Ward" not in other.text
    assert client.get("/team").status_code == 403
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_team_link_sees_every_ward_and_the_team_page(
    web_settings: Settings, wards: dict[str, int]
) -> None:
    client = _client(web_settings)
    assert (
        client.get(_link(web_settings, TEAM_SCOPE, "priya.raman@trust.example")).status_code == 200
    )
    assert client.get("/w/NGH-BEE").status_code == 200
    team = client.get("/team")
    assert team.status_code == 200 and "One hoist for 28 beds" in team.text


def test_tampered_expired_and_revoked_links_are_refused(
    web_settings: Settings, wards: dict[str, int]
) -> None:
    client = _client(web_settings)
    good = _link(web_settings, ward_scope("NGH-ASH"), "ann@trust.example")
    tampered = client.get(good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"))
    assert tampered.status_code == 401 and "new link" in tampered.text
    assert client.get("/w/NGH-ASH").status_code == 401  # no session from a refused link

    old = datetime.now(UTC) - timedelta(days=web_settings.web_link_days + 1)
    expired = client.get(_link(web_settings, ward_scope("NGH-ASH"), "ann@trust.example", now=old))
    assert expired.status_code == 401 and "expired" in expired.text

    assert client.get(good).status_code == 200
    assert client.get("/w/NGH-ASH").status_code == 200
    with session_scope(get_engine(web_settings.database_url)) as session:
        revoke_links(session, "ann@trust.example")
    revoked = client.get("/w/NGH-ASH")  # the session's grant is re-checked on every request
    assert revoked.status_code == 401 and "withdrawn" in revoked.text
    assert client.get(good).status_code == 401


def test_no_link_no_page(web_settings: Settings, wards: dict[str, int]) -> None:
    page = _client(web_settings).get("/w/NGH-ASH")
    assert page.status_code == 401 and "Ash Ward" not in page.text


def test_refuses_to_start_without_a_secret(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="WARDPROG_WEB_SECRET"):
        create_app(settings)


def test_links_command_prints_a_working_link(web_settings: Settings, wards: dict[str, int]) -> None:
    result = CliRunner().invoke(cli_app, ["links", "NGH-ASH", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["ward"] == "NGH-ASH" and out["url"].startswith("http://127.0.0.1:8080/w/NGH-ASH?t=")
    assert datetime.fromisoformat(out["expires"]) > datetime.now(UTC) + timedelta(days=59)
    client = _client(web_settings)
    first = client.get(out["url"].removeprefix(web_settings.web_url))
    assert first.status_code == 200 and "Ash Ward" in first.text
    # The same token on another ward's page: refused, and nothing of that ward shown.
    token = out["url"].split("?t=", 1)[1]
    other = _client(web_settings).get(f"/w/NGH-BEE?t={token}")
    assert other.status_code == 403 and "Beech Ward" not in other.text
    bad = CliRunner().invoke(cli_app, ["links", "NGH-NOPE"])
    assert bad.exit_code == 2 and "NGH-NOPE" in bad.output


def test_every_ward_message_carries_its_page_link(
    web_settings: Settings, wards: dict[str, int]
) -> None:
    with session_scope(get_engine(web_settings.database_url)) as session:
        note = enqueue(
            session,
            key="test:link",
            kind="triage_rejected",
            tags=["NGH-ASH"],
            ward_code="NGH-ASH",
            context={
                "manager_name": "Ann",
                "ward_name": "Ash Ward",
                "filename": "f.csv",
                "problems": [],
            },
        )
    link = re.search(r"http://127\.0\.0\.1:8080/w/NGH-ASH\?t=\S+", note.body_text)
    assert link and link.group(0) in note.body_html
    client = _client(web_settings)
    assert client.get(link.group(0).removeprefix(web_settings.web_url)).status_code == 200


def test_team_page_lists_changes(web_settings: Settings, wards: dict[str, int]) -> None:
    with Session(get_engine(web_settings.database_url)) as session:
        from wardprog.web.views import team_page

        page = team_page(session, date(2026, 1, 5))
    assert [c.issue for c in page.changes] == ["One hoist for 28 beds"]


def _csrf(page_html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page_html)
    assert found, "every form carries a CSRF token"
    return found.group(1)


def _signed_in(settings: Settings, scope: str, email: str = "ann@trust.example") -> TestClient:
    client = _client(settings)
    assert client.get(_link(settings, scope, email)).status_code == 200
    return client


def test_mark_a_fix_done_and_score_a_project(web_settings: Settings, wards: dict[str, int]) -> None:
    from sqlmodel import select

    from wardprog.models import Action, Notification

    client = _signed_in(web_settings, ward_scope("NGH-ASH"))
    token = _csrf(client.get("/w/NGH-ASH").text)
    done = client.post(
        f"/w/NGH-ASH/items/{wards['fix']}/close", data={"csrf": token, "outcome": "Hinge replaced"}
    )
    assert done.status_code == 303
    scored = client.post(
        f"/w/NGH-ASH/items/{wards['improve']}/score",
        data={
            "csrf": token,
            "score": "3.0",
            "why": "Handover audit 80% complete",
            "evidence_note": "The audit is the measure; no extract counts it",
        },
    )
    assert scored.status_code == 303
    page = client.get("/w/NGH-ASH").text
    assert "Done: Hinge replaced" in page and "3.0" in page
    with Session(get_engine(web_settings.database_url)) as session:
        fix = session.get(TriageItem, wards["fix"])
        assert fix is not None and fix.status.value == "closed" and fix.outcome == "Hinge replaced"
        actions = session.exec(select(Action).order_by(col(Action.id))).all()
        assert [(a.command, a.source_kind, a.actor_email) for a in actions] == [
            ("CloseItem", "web", "ann@trust.example"),
            ("ScoreProject", "web", "ann@trust.example"),
        ]
        kinds = [n.kind for n in session.exec(select(Notification)).all()]
        assert "you_said_we_did" in kinds


def test_refusals_write_nothing(web_settings: Settings, wards: dict[str, int]) -> None:
    from sqlmodel import func, select

    from wardprog.models import Action

    client = _signed_in(web_settings, ward_scope("NGH-ASH"))
    token = _csrf(client.get("/w/NGH-ASH").text)
    fix = wards["fix"]
    no_csrf = client.post(f"/w/NGH-ASH/items/{fix}/close", data={"outcome": "x"})
    assert no_csrf.status_code == 403
    other_ward = client.post(f"/w/NGH-BEE/items/{fix}/close", data={"csrf": token, "outcome": "x"})
    assert other_ward.status_code == 403
    # An item id that is not this ward's, through this ward's URL.
    with session_scope(get_engine(web_settings.database_url)) as session:
        bee = session.exec(select(TriageItem).where(TriageItem.id == fix)).one()
        stranger = TriageItem(
            ward_id=bee.ward_id + 1,
            wave_id=bee.wave_id,
            issue="x",
            issue_key="x",
            category=TriageCategory.fix,
        )
        session.add(stranger)
        session.flush()
        stranger_id = stranger.id
    foreign = client.post(
        f"/w/NGH-ASH/items/{stranger_id}/close", data={"csrf": token, "outcome": "x"}
    )
    assert foreign.status_code == 403
    bad_score = client.post(
        f"/w/NGH-ASH/items/{wards['improve']}/score",
        data={"csrf": token, "score": "5.5", "why": "x"},
    )
    assert bad_score.status_code == 303
    flash = client.get("/w/NGH-ASH").text
    assert "ScoreProject: score" in flash and "5.5" in flash
    team_only = client.post(
        f"/team/items/{wards['change']}/decide",
        data={"csrf": token, "decision": "approve", "owner": "x", "note": "y"},
    )
    assert team_only.status_code == 403
    with Session(get_engine(web_settings.database_url)) as session:
        assert session.exec(select(func.count()).select_from(Action)).one() == 0
        assert session.get_one(TriageItem, fix).status.value == "open"


def test_team_decides_a_change(web_settings: Settings, wards: dict[str, int]) -> None:
    client = _signed_in(web_settings, TEAM_SCOPE, "priya.raman@trust.example")
    token = _csrf(client.get("/team").text)
    decided = client.post(
        f"/team/items/{wards['change']}/decide",
        data={"csrf": token, "decision": "approve", "owner": "Estates lead", "note": "Funded"},
    )
    assert decided.status_code == 303
    with Session(get_engine(web_settings.database_url)) as session:
        item = session.get(TriageItem, wards["change"])
        assert item is not None and item.decision is not None and item.decision.value == "approve"
        assert item.owner == "Estates lead"


def test_uploads_are_checked(web_settings: Settings, wards: dict[str, int]) -> None:
    client = _signed_in(web_settings, ward_scope("NGH-ASH"))
    token = _csrf(client.get("/w/NGH-ASH").text)
    wrong = client.post(
        "/w/NGH-ASH/upload", data={"csrf": token}, files={"file": ("t.xls", b"\xd0\xcf", "x")}
    )
    assert wrong.status_code == 303
    assert "save it as .xlsx or .csv" in client.get("/w/NGH-ASH").text
    big = b"a" * (web_settings.web_upload_max_bytes + 1)
    client.post(
        "/w/NGH-ASH/upload", data={"csrf": token}, files={"file": ("t.csv", big, "text/csv")}
    )
    assert "nothing was read" in client.get("/w/NGH-ASH").text
    assert not any(web_settings.inbox_dir.rglob("*")) if web_settings.inbox_dir.exists() else True


def test_cant_make_it_asks_the_team_once(web_settings: Settings, wards: dict[str, int]) -> None:
    from sqlmodel import select

    from wardprog.models import Notification

    client = _signed_in(web_settings, ward_scope("NGH-ASH"))
    page = client.get("/w/NGH-ASH").text
    assert "Can't make it?" in page
    token = _csrf(page)
    for _ in range(2):  # a second click the same day is the same request
        sent = client.post(
            "/w/NGH-ASH/event/cant-make-it",
            data={"csrf": token, "reason": "Ward closed: norovirus"},
        )
        assert sent.status_code == 303
    assert "asked to move" in client.get("/w/NGH-ASH").text
    with Session(get_engine(web_settings.database_url)) as session:
        notes = session.exec(
            select(Notification).where(Notification.kind == "event_change_requested")
        ).all()
    assert len(notes) == 1 and notes[0].tags == ["improvement-team"]
    assert "norovirus" in notes[0].body_text and "Ann" in notes[0].body_text


def test_record_the_event_held_from_the_ward_page(
    web_settings: Settings, wards: dict[str, int]
) -> None:
    from sqlmodel import select

    from wardprog.models import Action, EngagementEvent, EventStatus

    with Session(get_engine(web_settings.database_url)) as session:
        event = session.exec(select(EngagementEvent)).one()
        assert event.starts_at is not None
        day = event.starts_at.date()
    before = TestClient(create_app(web_settings, today=day - timedelta(days=1)))
    before.get(_link(web_settings, ward_scope("NGH-ASH"), "ann@trust.example"))
    assert "Record event held" not in before.get("/w/NGH-ASH").text  # not before it happens

    client = TestClient(create_app(web_settings, today=day + timedelta(days=1)))
    page = client.get(_link(web_settings, ward_scope("NGH-ASH"), "ann@trust.example")).text
    assert "Record event held" in page
    held = client.post(
        "/w/NGH-ASH/event/held", data={"csrf": _csrf(page), "attendees": "14", "facilitator": ""}
    )
    assert held.status_code == 200  # followed back to the page
    with Session(get_engine(web_settings.database_url)) as session:
        event = session.exec(select(EngagementEvent)).one()
        assert event.status is EventStatus.held
        (action,) = session.exec(select(Action)).all()
        assert action.command == "RecordEventHeld" and action.source_kind == "web"
