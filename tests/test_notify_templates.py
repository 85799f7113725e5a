"""wave_launch and improvement_team_digest render (text + escaped HTML); one digest a day."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from tests.utils.factories import make_enrolment, make_site, make_ward, make_wave
from wardprog import clock
from wardprog.config import Settings
from wardprog.models import (
    Notification,
    NotificationStatus,
    Stage,
    TriageCategory,
    TriageItem,
)
from wardprog.models.base import require_id
from wardprog.notify.digest import (
    build_digest_context,
    digest_key,
    enqueue_improvement_team_digest,
)
from wardprog.notify.render import render


def launch(wards: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "wave_number": 2,
        "quarter_start": date(2026, 4, 6),
        "quarter_end": date(2026, 6, 30),
        "as_of": date(2026, 4, 6),
        "wards": wards,
    }


def test_ward_managers_copy_names_only_their_ward() -> None:
    ward = {"code": "W-A01", "name": "Ash <b>Ward</b>", "site": "North", "manager_name": "Sam"}
    out = render("wave_launch", launch([ward]))
    assert out.subject == "Ash <b>Ward</b> joins wave 2 of the ward improvement programme"
    assert "Dear Sam," in out.text and "Monday 6 April 2026" in out.text
    # Staff-typed names are text, never markup, in a manager's mail client.
    assert "Ash &lt;b&gt;Ward&lt;/b&gt;" in out.html and "<b>Ward</b>" not in out.html


def test_improvement_team_copy_lists_every_ward_by_site() -> None:
    wards = [
        {"code": f"W-{s}{n}", "name": f"Ward {s}{n}", "site": site, "manager_name": ""}
        for s, site in (("A", "North"), ("B", "South"))
        for n in range(1, 4)
    ]
    out = render("wave_launch", launch(wards))
    assert out.subject.startswith("Wave 2 launched: 6 wards")
    assert out.text.index("North") < out.text.index("W-A1") < out.text.index("South")
    assert "not recorded" in out.text
    assert out.html.count("<tr>") == 7


def test_digest_counts_stages_and_lists_overdue(session: Session, settings: Settings) -> None:
    # The rows are dated in March, on the programme's clock, before the digest's day.
    with clock.simulated(clock.day_start(date(2026, 3, 20))):
        _digest_rows(session)
    _check_digest(session, settings)


def _digest_rows(session: Session) -> None:
    site = make_site(session, code="N", name="North")
    done_wave = make_wave(session, quarter_start=date(2026, 1, 5), quarter_end=date(2026, 3, 31))
    late = make_ward(session, site, code="W-N01", name="Oak <Ward>")
    on_time = make_ward(session, site, code="W-N02")
    make_enrolment(session, late, done_wave, Stage.triage)
    make_enrolment(session, on_time, done_wave, Stage.complete)
    session.add_all(
        [
            TriageItem(
                ward_id=require_id(late),
                wave_id=require_id(done_wave),
                issue="Broken hoist",
                issue_key="broken hoist",
                category=TriageCategory.fix,
                owner="Estates",
                due_date=date(2026, 3, 1),
            ),
            TriageItem(
                ward_id=require_id(late),
                wave_id=require_id(done_wave),
                issue="Sixth nurse on nights",
                issue_key="sixth nurse",
                category=TriageCategory.change,
                review_date=date(2026, 9, 1),
            ),
            Notification(
                idempotency_key="x:1",
                kind="wave_launch",
                subject="s",
                body_text="b",
                ward_code="W-N01",
                status=NotificationStatus.dead,
                last_error="gave up after 5 attempts: mailto://smtp/… refused",
            ),
        ]
    )
    session.flush()


def _check_digest(session: Session, settings: Settings) -> None:
    ctx = build_digest_context(session, settings, date(2026, 4, 10))

    stages = {s["stage"]: s["wards"] for s in ctx["stages"]}
    assert stages["triage"] == 1 and stages["complete"] == 1 and ctx["total_wards"] == 2
    assert [w["code"] for w in ctx["overdue_wards"]] == ["W-N01"]
    assert [(a["issue"], a["days_overdue"]) for a in ctx["overdue_actions"]] == [
        ("Broken hoist", 40)
    ]
    assert ctx["notifications"]["dead"] == 1

    note = enqueue_improvement_team_digest(session, settings, date(2026, 4, 10))
    again = enqueue_improvement_team_digest(session, settings, date(2026, 4, 10))
    assert note.id == again.id and note.idempotency_key == digest_key(date(2026, 4, 10))
    assert note.tags == ["improvement-team"] and note.ward_code is None
    assert "1 ward(s) overdue, 1 action(s) overdue, 1 message(s) undelivered" in note.subject
    assert "Broken hoist" in note.body_text and "Oak &lt;Ward&gt;" in note.body_html
    count = session.exec(select(Notification).where(Notification.kind == note.kind)).all()
    assert len(count) == 1


def test_every_kind_has_a_subject_a_text_and_an_html_template() -> None:
    folder = Path(render.__globals__["__file__"]).parent / "templates"
    kinds = {p.name.split(".")[0] for p in folder.iterdir() if not p.name.startswith("_")}
    missing = [
        f"{kind}{suffix}"
        for kind in sorted(kinds)
        for suffix in (".subject.txt", ".txt", ".html")
        if not (folder / f"{kind}{suffix}").exists()
    ]
    assert "wave_launch" in kinds and "improvement_team_digest" in kinds
    assert missing == []
