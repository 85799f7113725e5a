"""The monthly ward tracker: sent once a month pre-filled, returned, recorded through the same
commands as the CLI, the manager told what was recorded or what was wrong."""

from __future__ import annotations

import base64
import io
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, col, select

from flows.tracker import ward_trackers
from tests.utils.programme import Ward, ward_in_programme
from wardprog.config import Settings
from wardprog.models import Action, ImprovementScore, Notification, TriageItem, TriageStatus
from wardprog.services.tracker import collect_returns, send_monthly_trackers, tracker_inbox

MARCH = date(2026, 3, 2)  # Monday: the first working day of March 2026


@pytest.fixture
def ward(session: Session, settings: Settings, tmp_path: Path) -> Ward:
    return ward_in_programme(session, settings, tmp_path)


def _notes(session: Session, kind: str) -> list[Notification]:
    session.expire_all()
    return list(session.exec(select(Notification).where(Notification.kind == kind)).all())


def _attachment(note: Notification, suffix: str) -> bytes:
    (found,) = [a for a in note.attachments if a["filename"].endswith(suffix)]
    return base64.b64decode(found["content_b64"])


def test_sent_once_a_month_from_the_first_working_day(session: Session, ward: Ward) -> None:
    item = session.get(TriageItem, ward.fix)
    assert item is not None
    item.issue = '=HYPERLINK("http://127.0.0.1/x","click")'  # staff text that looks like a formula
    session.add(item)
    session.commit()

    assert send_monthly_trackers(session, date(2026, 3, 1)) == []  # Sunday 1 March
    assert send_monthly_trackers(session, MARCH) == [ward.code]
    assert send_monthly_trackers(session, date(2026, 3, 9)) == []  # once a month
    session.commit()
    (note,) = _notes(session, "ward_tracker")
    assert note.idempotency_key == f"ward_tracker:{ward.code}:2026-03"
    assert note.recipients == [ward.ctx.ward.manager_email]
    assert {a["filename"] for a in note.attachments} == {
        f"tracker-{ward.code}-2026-03.xlsx",
        f"tracker-{ward.code}-2026-03.csv",
    }
    ws = load_workbook(io.BytesIO(_attachment(note, ".xlsx")))["Tracker"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:7] == ("Item id", "Issue", "Category", "Owner", "Due date",
                           "Latest IHI score", "Status")  # fmt: skip
    by_id = {r[0]: r for r in rows[1:]}
    assert set(by_id) == {ward.fix, ward.improve, ward.change}
    assert by_id[ward.improve][5] == 0.5 and by_id[ward.improve][6] == "open"
    cell = next(c for c in ws["B"] if c.value and str(c.value).startswith("=HYPER"))
    assert cell.data_type == "s"  # comes back as text, not a formula
    csv_text = _attachment(note, ".csv").decode("utf-8-sig")
    assert csv_text.splitlines()[0].startswith("Item id,Issue,Category")
    assert send_monthly_trackers(session, date(2026, 4, 1)) == [ward.code]


def _returned(session: Session, ward: Ward, settings: Settings, fill: dict[int, list]) -> Path:
    """The manager fills the sent xlsx in and drops it in the ward's tracker inbox."""
    send_monthly_trackers(session, MARCH)
    session.commit()
    (note,) = _notes(session, "ward_tracker")
    wb = load_workbook(io.BytesIO(_attachment(note, ".xlsx")))
    ws = wb["Tracker"]
    for row in ws.iter_rows(min_row=2):
        for offset, value in enumerate(fill.get(row[0].value, [])):
            row[6 + offset].value = value
    inbox = tracker_inbox(settings, ward.code)
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"tracker-{ward.code}-2026-03.xlsx"
    wb.save(path)
    return path


def test_returned_tracker_becomes_commands_and_a_reply(
    session: Session, ward: Ward, settings: Settings, prefect_harness: None
) -> None:
    path = _returned(session, ward, settings, {
        ward.fix: ["done", "New drawer fitted", "2026-02-27"],
        ward.improve: ["open", None, None, 2.5, "Two PDSA cycles, falls audit"],
    })  # fmt: skip

    result = ward_trackers(MARCH)

    assert result == {"sent": [], "recorded": 2, "rejected": 0}
    session.expire_all()
    fix = session.get(TriageItem, ward.fix)
    assert fix is not None and fix.status is TriageStatus.closed
    assert fix.outcome == "New drawer fitted" and fix.closed_at is not None
    assert fix.closed_at.date() == date(2026, 2, 27)
    score = session.exec(select(ImprovementScore).where(ImprovementScore.score == 2.5)).one()
    assert score.scored_by == ward.ctx.ward.manager_name and score.scored_on == MARCH
    actions = session.exec(select(Action).order_by(col(Action.id))).all()
    assert [(a.command, a.source_kind) for a in actions] == [
        ("CloseItem", "file"), ("ScoreProject", "file")]  # fmt: skip
    assert actions[0].source_ref == f"{path.name}#row 2"
    assert actions[0].actor_email == ward.ctx.ward.manager_email
    assert len(_notes(session, "you_said_we_did")) == 1
    (reply,) = _notes(session, "tracker_recorded")
    assert "New drawer fitted" in reply.body_text and "scored 2.5" in reply.body_text
    assert not path.exists() and (path.parent / "processed" / path.name).exists()

    # The same file dropped again records nothing twice and sends no second reply.
    (path.parent / "processed" / path.name).rename(path)
    ward_trackers(MARCH)
    session.expire_all()
    assert len(session.exec(select(Action)).all()) == 2
    assert len(_notes(session, "tracker_recorded")) == 1


def test_a_bad_tracker_is_rejected_whole_with_row_and_column(
    session: Session, ward: Ward, settings: Settings
) -> None:
    path = _returned(session, ward, settings, {
        ward.fix: ["done", "New drawer fitted"],  # fine on its own
        ward.improve: ["finished", None, None, 7, ""],
        ward.change: ["open", None, None, 2.0, "why not"],
    })  # fmt: skip

    (outcome,) = collect_returns(session, settings, ward.ctx.ward, MARCH)
    session.commit()

    assert outcome.recorded == [] and outcome.error is not None
    text = str(outcome.error)
    assert "row 3, column 'Status': 'finished' is not open or done" in text
    assert "row 3, column 'New score'" in text and "row 3, column 'Why'" in text
    assert "row 4, column 'New score': only improvement projects" in text
    session.expire_all()
    assert session.exec(select(Action)).all() == []
    assert session.get_one(TriageItem, ward.fix).status is TriageStatus.open
    rejected = path.parent / "rejected" / path.name
    assert rejected.exists() and "'finished'" in Path(f"{rejected}.errors.txt").read_text()
    (reply,) = _notes(session, "tracker_rejected")
    assert "finished" in reply.body_text and reply.recipients == [ward.ctx.ward.manager_email]


def test_a_csv_return_with_an_unknown_item(
    session: Session, ward: Ward, settings: Settings
) -> None:
    inbox = tracker_inbox(settings, ward.code)
    inbox.mkdir(parents=True)
    (inbox / "t.csv").write_text(
        "Item id,Issue,Status,What was done,Date done,New score,Why\n"
        f"{ward.fix},x,done,Sorted,,,\n"
        "9999,y,done,Sorted,,,\n"
    )
    (outcome,) = collect_returns(session, settings, ward.ctx.ward, MARCH)
    assert outcome.error is not None
    assert "row 3, column 'Item id': item 9999 is not one of this ward's" in str(outcome.error)
    session.commit()  # the rejection (reply and move to rejected/) commits with the run
    assert (inbox / "rejected" / "t.csv.errors.txt").exists()
    (inbox / "u.csv").write_text(
        f"Item id,Status,What was done,Date done,New score,Why\n{ward.fix},done,Sorted,,,\n"
    )
    (outcome,) = collect_returns(session, settings, ward.ctx.ward, MARCH)
    assert outcome.error is None and outcome.recorded[0].command == "CloseItem"


def test_a_high_score_on_the_tracker_carries_its_evidence_note(
    session: Session, ward: Ward, settings: Settings, prefect_harness: None
) -> None:
    """A 3.5 with no evidence is refused whole (the reply says why); with the note column
    filled it is recorded with the note."""
    path = _returned(session, ward, settings, {
        ward.improve: ["open", None, None, 3.5, "Falls halved"],
    })  # fmt: skip
    assert ward_trackers(MARCH)["rejected"] == 1
    session.expire_all()
    assert (
        session.exec(select(ImprovementScore).where(ImprovementScore.score == 3.5)).first() is None
    )
    assert "needs evidence" in _notes(session, "tracker_rejected")[-1].body_text
    path.unlink(missing_ok=True)
    _returned(session, ward, settings, {
        ward.improve: ["open", None, None, 3.5, "Falls halved", "Audit data due in May"],
    })  # fmt: skip
    assert ward_trackers(MARCH)["recorded"] == 1
    session.expire_all()
    score = session.exec(select(ImprovementScore).where(ImprovementScore.score == 3.5)).one()
    assert score.evidence_note == "Audit data due in May" and score.project_id is not None
