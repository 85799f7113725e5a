"""Triage capture through the inbox, rejection of bad files, scores, reminders and closure."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from tests.utils.factories import make_context
from wardprog.config import Settings
from wardprog.demo.triage_responses import drop_filled_template
from wardprog.errors import InputFileError
from wardprog.models import Notification
from wardprog.models.base import require_id
from wardprog.models.triage import (
    ImprovementScore,
    TriageCategory,
    TriageItem,
    TriageStatus,
    TriageSubmission,
)
from wardprog.services.context import StageContext
from wardprog.services.projects import ProjectError
from wardprog.services.projects.scores import project_of_item, record_score
from wardprog.services.triage import (
    TriageError,
    close_item,
    run_triage_stage,
    score_history,
    send_overdue_reminders,
    triage_inbox,
)
from wardprog.services.triage.template import parse_template

AS_OF = date(2026, 2, 2)


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _notes(session: Session, kind: str) -> list[Notification]:
    return list(session.exec(select(Notification).where(Notification.kind == kind)).all())


def _drop_csv(
    ctx: StageContext, text: str, name: str = "returned.csv", encoding: str = "utf-8"
) -> Path:
    inbox = triage_inbox(ctx.settings, ctx.ward.code)
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / name
    path.write_bytes(text.encode(encoding))
    return path


HEADER = "Issue,Raised by,Category,Suggested owner,Notes\n"


@pytest.fixture
def ctx(session: Session, settings: Settings) -> StageContext:
    return make_context(session, settings, as_of=AS_OF)


def test_waits_for_a_file_then_imports_the_demo_return(session: Session, ctx: StageContext) -> None:
    waiting = run_triage_stage(ctx)
    assert not waiting.done and "waiting for the triage template" in waiting.summary

    path = drop_filled_template(ctx)
    outcome = run_triage_stage(ctx)

    assert outcome.done
    items = session.exec(select(TriageItem)).all()
    assert len(items) == outcome.details["items"] >= 6
    assert {i.category for i in items} == set(TriageCategory)
    manager = ctx.ward.manager_name
    for item in items:
        assert item.source == path.name and item.source_row is not None and item.source_row >= 2
        if item.category is TriageCategory.fix:
            assert item.due_date == AS_OF + timedelta(days=30)
            assert item.owner  # the suggested owner or the ward manager
        elif item.category is TriageCategory.improve:
            (score,) = score_history(session, require_id(item))
            assert (score.score, score.scored_on) == (0.5, AS_OF)
            assert score.scored_by and score.justification
        else:
            # No owners register here: nobody is named, and no placeholder stands in.
            assert item.review_date == AS_OF + timedelta(days=60)
            assert item.escalation_level == "" and "Improvement team" not in item.owner
    assert any(i.owner == manager for i in items if i.category is not TriageCategory.change)
    (summary,) = _notes(session, "triage_summary")
    assert summary.recipients == [ctx.ward.manager_email]
    assert "You said, we will" in summary.subject
    assert items[0].issue in summary.body_text

    # Processed files move only when the transaction commits.
    assert path.exists()
    session.commit()
    assert not path.exists() and (path.parent / "processed" / path.name).exists()

    again = run_triage_stage(ctx)
    assert again.done and again.details["created"] == 0
    assert _count(session, TriageItem) == len(items)
    assert _count(session, Notification) == 1


def test_reimporting_a_copy_writes_nothing_new(session: Session, ctx: StageContext) -> None:
    first = drop_filled_template(ctx)
    copy = first.with_name("copy-of-return.xlsx")
    copy.write_bytes(first.read_bytes())
    run_triage_stage(ctx)
    items = _count(session, TriageItem)
    assert _count(session, TriageSubmission) == 1  # identical content: one submission
    drop_filled_template(ctx)  # and the ward sends it again next day
    run_triage_stage(ctx)
    assert _count(session, TriageItem) == items
    assert len(_notes(session, "triage_summary")) == 1


def test_malformed_file_is_rejected_whole_with_file_row_and_column(
    session: Session, ctx: StageContext
) -> None:
    path = _drop_csv(
        ctx,
        HEADER
        + "Call bells not answered quickly at night,Staff nurse,fix,,\n"
        + "Bay 2 too hot in summer,,maybe,,\n"
        + ",HCA,improve,,forgot to write it\n"
        + "call bells not answered quickly at night.,,change,,\n",
    )
    with pytest.raises(InputFileError) as err:
        parse_template(path)
    message = str(err.value)
    assert str(path) in message and "nothing was imported" in message
    assert (
        "row 3, column 'category': 'maybe' is not a category; use one of: fix, improve, change"
        in message
    )
    assert "row 4, column 'issue': is empty" in message
    assert "row 5, column 'issue': duplicates row 2" in message

    outcome = run_triage_stage(ctx)
    session.commit()  # the stage waits: the rejection (message, move) commits with it

    assert not outcome.done and "rejected" in outcome.summary
    assert _count(session, TriageItem) == 0 and _count(session, ImprovementScore) == 0
    assert not path.exists()
    rejected = path.parent / "rejected" / path.name
    assert rejected.exists()
    errors = (path.parent / "rejected" / f"{path.name}.errors.txt").read_text()
    assert "row 3, column 'category'" in errors and "returned.csv" in errors
    (note,) = _notes(session, "triage_rejected")
    assert "row 4, column &#39;issue&#39;: is empty" in note.body_html
    (sub,) = session.exec(select(TriageSubmission)).all()
    assert sub.status == "rejected" and len(sub.problems) == 3

    # The next run does not trip over it again, and the same bad file re-sent is not re-reported.
    assert not run_triage_stage(ctx).done
    rejected_copy = path.parent / "rejected" / path.name
    path.write_bytes(rejected_copy.read_bytes())
    run_triage_stage(ctx)
    session.commit()
    assert len(_notes(session, "triage_rejected")) == 1
    assert not path.exists() and (path.parent / "rejected" / "returned.1.csv").exists()
    assert _count(session, TriageSubmission) == 1


def test_structural_problems_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "no-category.csv"
    missing.write_text("Issue,Raised by\nBroken drawer,\n")
    with pytest.raises(InputFileError, match="row 1, column 'category': column is missing"):
        parse_template(missing)
    empty = tmp_path / "empty.csv"
    empty.write_text(HEADER + ",,,,\n")
    with pytest.raises(InputFileError, match="no issues were filled in"):
        parse_template(empty)
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"not a workbook")
    with pytest.raises(InputFileError, match="not a readable Excel workbook"):
        parse_template(junk)


def test_csv_from_excel_on_windows_and_anonymous_staff(tmp_path: Path) -> None:
    path = tmp_path / "cp1252.csv"
    path.write_bytes(
        (HEADER + "Siân's pump — alarms constantly,Anonymous,Change,,\n").encode("cp1252")
    )
    (entry,) = parse_template(path)
    assert entry.issue.startswith("Siân's pump") and entry.raised_by is None
    assert entry.category == "change"


def test_staff_text_is_escaped_in_the_html_summary(session: Session, ctx: StageContext) -> None:
    _drop_csv(
        ctx,
        HEADER
        + "\"<script>alert('x')</script> bins overflow\",<b>Nurse</b>,fix,,"
        + '"<img src=x onerror=y>"\n',
    )
    assert run_triage_stage(ctx).done
    (note,) = _notes(session, "triage_summary")
    assert "<script>" not in note.body_html and "<b>Nurse</b>" not in note.body_html
    assert "&lt;script&gt;" in note.body_html and "&lt;b&gt;Nurse&lt;/b&gt;" in note.body_html
    assert "<script>" in note.body_text  # plain text stays as typed
    assert "<" not in note.subject


def test_ihi_scores_are_validated_and_kept_as_history(session: Session, ctx: StageContext) -> None:
    _drop_csv(ctx, HEADER + "Falls at night,,improve,,\nBroken drawer,,fix,,\n")
    run_triage_stage(ctx)
    improve = session.exec(select(TriageItem).where(TriageItem.category == "improve")).one()
    fix = session.exec(select(TriageItem).where(TriageItem.category == "fix")).one()
    assert improve.id is not None and fix.id is not None

    def score(item_id: int, value: float, by: str, on: date, why: str) -> None:
        """As the command does: the item's project, then its score (one way to score)."""
        project = project_of_item(session, item_id, on)
        record_score(session, ctx.settings, project, value, by, on, why)

    for bad in (0.0, 0.7, 5.5):
        with pytest.raises(ProjectError, match="not on the scale"):
            score(improve.id, bad, "QI lead", AS_OF, "evidence")
    with pytest.raises(ProjectError, match="justification"):
        score(improve.id, 1.0, "QI lead", AS_OF, " ")
    with pytest.raises(ProjectError, match="only improvement projects"):
        score(fix.id, 1.0, "QI lead", AS_OF, "x")
    later = AS_OF + timedelta(days=30)
    score(improve.id, 2.0, "Priya Raman", later, "PDSA cycles under way")
    score(improve.id, 2.0, "Priya Raman", later, "PDSA cycles under way")
    history = score_history(session, improve.id)
    assert [(s.score, s.scored_by) for s in history] == [
        (0.5, "Improvement team (triage)"),
        (2.0, "Priya Raman"),
    ]


def test_overdue_reminders_weekly_and_you_said_we_did(session: Session, ctx: StageContext) -> None:
    _drop_csv(
        ctx, HEADER + "Broken drawer,,fix,,\nSecond hoist,,change,,\nFalls at night,,improve,,\n"
    )
    run_triage_stage(ctx)
    assert send_overdue_reminders(session, AS_OF + timedelta(days=30)) == []  # due, not overdue
    monday = date(2026, 3, 9)  # fix due 4 March: overdue; change review 3 April: not yet
    (first,) = send_overdue_reminders(session, monday)
    assert "Broken drawer" in first.body_text and "overdue" in first.subject.lower()
    assert send_overdue_reminders(session, monday + timedelta(days=3)) == []  # same ISO week
    assert len(send_overdue_reminders(session, monday + timedelta(days=7))) == 1
    assert len(send_overdue_reminders(session, date(2026, 4, 6))) == 2  # change review overdue

    fix = session.exec(select(TriageItem).where(TriageItem.category == "fix")).one()
    assert fix.id is not None
    closed = close_item(
        session, fix.id, "Estates replaced the drawer runners", "Ward sister", monday
    )
    close_item(session, fix.id, "again", "Ward sister", monday)
    assert closed.status is TriageStatus.closed and closed.outcome.startswith("Estates")
    (did,) = _notes(session, "you_said_we_did")
    assert "Broken drawer" in did.body_text and "Estates replaced" in did.body_html
    assert len(send_overdue_reminders(session, date(2026, 4, 13))) == 1  # only the change item
    with pytest.raises(TriageError, match="needs an outcome"):
        change = session.exec(select(TriageItem).where(TriageItem.category == "change")).one()
        close_item(session, require_id(change), "", "x", monday)


def test_rollback_leaves_the_file_in_the_inbox(session: Session, ctx: StageContext) -> None:
    path = _drop_csv(ctx, HEADER + "Broken drawer,,fix,,\n")
    session.commit()  # the context's rows exist; the stage runs in the next transaction
    run_triage_stage(ctx)
    session.rollback()
    assert path.exists() and _count(session, TriageItem) == 0
    assert run_triage_stage(ctx).done
    session.commit()
    assert not path.exists() and _count(session, TriageItem) == 1


def test_demo_returns_are_deterministic_and_realistic(ctx: StageContext) -> None:
    first = parse_template(drop_filled_template(ctx))
    assert parse_template(drop_filled_template(ctx)) == first  # same ward, same return
    assert {e.category for e in first} == {"fix", "improve", "change"}
    assert 6 <= len(first) <= 9
    others = [e for seed in range(1, 6) for e in parse_template(drop_filled_template(ctx, seed))]
    assert any(e.raised_by is None for e in others)  # some staff stay anonymous
    assert any(e.raised_by for e in others)
