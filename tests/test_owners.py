"""Owners and the escalation ladder: the register (all rows or none), change requests owned by
the ward's matron, overdue ones climbing to the directorate and the executive (each step one
message to the new owner and one note to the ward), and one digest per owner per week."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from tests.utils.factories import make_context, make_site, make_ward
from wardprog.cli import app
from wardprog.config import Settings
from wardprog.errors import InputFileError
from wardprog.models import (
    Action,
    ChangeDecision,
    EscalationOwner,
    Notification,
    OwnerChange,
    TriageCategory,
    TriageItem,
)
from wardprog.rules.escalation import Ladder, level_due, next_level
from wardprog.services.owners import escalate_overdue, import_owners, owners_for
from wardprog.services.triage import (
    decide_change,
    run_triage_stage,
    send_overdue_reminders,
    triage_inbox,
)

AS_OF = date(2026, 2, 2)
HEADER = "level,site_code,specialty,directorate,name,email,title\n"


def _register(site: str) -> str:
    return HEADER + (
        f"matron,{site},General medicine,Medicine,Grace Okafor,grace.okafor@trust.example,"
        f'"Matron, Medicine"\n'
        f"matron,{site},Surgery,Surgery,Tom Hendry,tom.hendry@trust.example,\n"
        "directorate,,,Medicine,Helen Marsh,helen.marsh@trust.example,Clinical director\n"
        "executive,,,,Jane Corrigan,jane.corrigan@trust.example,Chief Nurse\n"
    )


def _notes(session: Session, kind: str) -> list[Notification]:
    return list(session.exec(select(Notification).where(Notification.kind == kind)).all())


# --- the pure ladder -----------------------------------------------------------------------


def test_the_ladder_climbs_by_days_overdue_and_never_down() -> None:
    ladder = Ladder(14, 42)
    assert [level_due(d, ladder) for d in (0, 13, 14, 41, 42, 400)] == [
        "matron", "matron", "directorate", "directorate", "executive", "executive",
    ]  # fmt: skip
    every = {"matron", "directorate", "executive"}
    assert next_level("", 1, ladder, every) == "matron"
    assert next_level("matron", 13, ladder, every) is None
    assert next_level("matron", 14, ladder, every) == "directorate"
    assert next_level("matron", 60, ladder, every) == "executive"  # straight to the top
    assert next_level("executive", 14, ladder, every) is None  # never down
    # A rung with nobody named is skipped: the next one down that is staffed, if higher.
    assert next_level("matron", 20, ladder, {"matron", "executive"}) is None
    assert next_level("", 20, ladder, {"executive"}) is None
    assert next_level("", 50, ladder, {"executive"}) == "executive"
    with pytest.raises(ValueError, match="must rise"):
        Ladder(42, 14)


# --- the register --------------------------------------------------------------------------


def test_owners_register_is_all_rows_or_none(session: Session, tmp_path: Path) -> None:
    make_site(session, code="NGH")
    good = tmp_path / "owners.csv"
    good.write_text(_register("NGH"))
    assert import_owners(session, good) == 4
    bad = tmp_path / "bad.csv"
    bad.write_text(
        HEADER
        + "matron,NGH,General medicine,Medicine,Ann,ann@trust.example,\n"
        + "boss,,,,Bob,bob@trust.example,\n"
        + "matron,NGH,,Medicine,Cat,not-an-email,\n"
        + "matron,XYZ,Renal,Medicine,Dan,dan@trust.example,\n"
        + "matron,NGH,General medicine,Medicine,Eve,eve@trust.example,\n"
        + "directorate,,,,Fay,fay@trust.example,\n"
    )
    with pytest.raises(InputFileError) as caught:
        import_owners(session, bad)
    text = str(caught.value)
    assert "row 3, column 'level'" in text and "'boss'" in text
    assert "row 4, column 'email'" in text and "row 4, column 'specialty'" in text
    assert "row 5, column 'site_code'" in text and "'XYZ'" in text
    assert "row 6, column 'level'" in text and "already named on row 2" in text
    assert "row 7, column 'directorate'" in text
    # Nothing from the bad file: the good register is still there, whole.
    assert session.exec(select(func.count()).select_from(EscalationOwner)).one() == 4
    missing = tmp_path / "missing.csv"
    missing.write_text("level,name,email\nmatron,A,a@trust.example\n")
    with pytest.raises(InputFileError, match="column 'site_code'"):
        import_owners(session, missing)


def test_owners_register_from_excel_and_most_specific_row_wins(
    session: Session, tmp_path: Path
) -> None:
    site = make_site(session, code="RVH")
    other = make_site(session, code="SAH")
    ward = make_ward(session, site, specialty="Surgery")
    elsewhere = make_ward(session, other, specialty="Surgery")
    frame = pd.DataFrame(
        [
            ["matron", "RVH", "Surgery", "Surgery", "Tom Hendry", "tom@trust.example", ""],
            ["directorate", "", "", "Surgery", "Aaron Whitfield", "aaron@trust.example", ""],
            ["directorate", "RVH", "", "Surgery", "Rhys Evans", "rhys@trust.example", ""],
            ["executive", "", "", "", "Jane Corrigan", "jane@trust.example", "Chief Nurse"],
        ],
        columns=["Level", "Site", "Specialty", "Directorate", "Name", "Email", "Title"],
    )
    path = tmp_path / "owners.xlsx"
    frame.to_excel(path, index=False)
    assert import_owners(session, path) == 4
    found = owners_for(session, ward)
    assert {k: v.name for k, v in found.items()} == {
        "matron": "Tom Hendry", "directorate": "Rhys Evans", "executive": "Jane Corrigan",
    }  # fmt: skip
    assert found["executive"].described == "Chief Nurse"
    # No matron named for SAH surgery: no directorate either (it comes via the matron's row).
    assert set(owners_for(session, elsewhere)) == {"executive"}


# --- change requests, escalation and digests --------------------------------------------------


def _triaged(session: Session, settings: Settings, tmp_path: Path, rows: str) -> list[TriageItem]:
    ctx = make_context(session, settings, as_of=AS_OF)
    register = tmp_path / "owners.csv"
    register.write_text(_register(ctx.site.code))
    import_owners(session, register)
    inbox = triage_inbox(settings, ctx.ward.code)
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "r.csv").write_text("Issue,Category,Suggested owner\n" + rows)
    assert run_triage_stage(ctx).done
    return list(session.exec(select(TriageItem).order_by(col(TriageItem.id))).all())


def test_change_requests_climb_the_ladder_once_per_rung(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    items = _triaged(
        session, settings, tmp_path,
        "Second hoist for 28 beds,change,\nBroken drawer,fix,\nNight staffing review,change,\n",
    )  # fmt: skip
    hoist, drawer, staffing = items
    for change in (hoist, staffing):
        assert (change.owner, change.owner_email) == ("Grace Okafor", "grace.okafor@trust.example")
        assert change.escalation_level == "matron" and change.escalated_on == AS_OF
        assert change.escalated_to == "Matron, Medicine (Grace Okafor)"
    assert drawer.category is TriageCategory.fix and drawer.escalation_level == ""
    review = hoist.review_date
    assert review == AS_OF + timedelta(days=60)

    assert escalate_overdue(session, settings, review + timedelta(days=13)) == []
    up = escalate_overdue(session, settings, review + timedelta(days=14))
    assert [(e.item_id, e.level, e.owner) for e in up] == [
        (hoist.id, "directorate", "Helen Marsh"), (staffing.id, "directorate", "Helen Marsh"),
    ]  # fmt: skip
    assert (hoist.owner, hoist.owner_email) == ("Helen Marsh", "helen.marsh@trust.example")
    assert hoist.escalation_level == "directorate"
    (to_owner, _) = sorted(_notes(session, "escalation"), key=lambda n: n.id or 0)
    assert to_owner.recipients == ["helen.marsh@trust.example"]
    assert "Second hoist" in to_owner.body_text and "14 days overdue" in to_owner.subject
    assert "It was with Grace Okafor" in to_owner.body_text
    notes = _notes(session, "escalation_note")
    assert len(notes) == 2 and all(n.recipients == [_manager(session)] for n in notes)
    assert "Helen Marsh" in notes[0].subject

    # Re-runs the same day or later at the same rung: nothing new.
    assert escalate_overdue(session, settings, review + timedelta(days=20)) == []
    assert len(_notes(session, "escalation")) == 2
    top = escalate_overdue(session, settings, review + timedelta(days=42))
    assert {e.level for e in top} == {"executive"} and hoist.owner == "Jane Corrigan"
    assert escalate_overdue(session, settings, review + timedelta(days=90)) == []
    assert len(_notes(session, "escalation")) == 4
    assert len(_notes(session, "escalation_note")) == 4


def _manager(session: Session) -> str:
    from wardprog.models import Ward

    return session.exec(select(Ward)).one().manager_email


def test_one_digest_per_owner_per_week_never_to_the_ward_for_change(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    _triaged(
        session, settings, tmp_path,
        "Second hoist for 28 beds,change,\nBroken drawer,fix,\nNight staffing review,change,\n"
        "Leaky tap,fix,\n",
    )  # fmt: skip
    manager = _manager(session)
    monday = date(2026, 4, 6)  # fixes due 4 March, change reviews due 3 April: all overdue
    digests = send_overdue_reminders(session, monday)
    by_recipient = {tuple(d.recipients): d for d in digests}
    assert set(by_recipient) == {(manager,), ("grace.okafor@trust.example",)}
    matron = by_recipient[("grace.okafor@trust.example",)]
    assert "Second hoist" in matron.body_text and "Night staffing" in matron.body_text
    assert "Broken drawer" not in matron.body_text and "2 items" in matron.subject
    ward_digest = by_recipient[(manager,)]
    assert "Broken drawer" in ward_digest.body_text and "Leaky tap" in ward_digest.body_text
    assert "hoist" not in ward_digest.body_text
    assert send_overdue_reminders(session, monday + timedelta(days=4)) == []  # same week

    # Three weeks later the change requests are with the directorate: the digest goes there.
    later = monday + timedelta(days=14)
    digests = send_overdue_reminders(session, later)
    assert {tuple(d.recipients) for d in digests} == {(manager,), ("helen.marsh@trust.example",)}
    keys = [n.idempotency_key for n in _notes(session, "overdue_reminder")]
    assert len(keys) == len(set(keys)) == 4
    # A week in between replayed afterwards: chased with the owner of that week (the matron).
    between = send_overdue_reminders(session, monday + timedelta(days=7))
    assert ("grace.okafor@trust.example",) in {tuple(d.recipients) for d in between}
    assert len(_notes(session, "overdue_reminder")) == 6
    bodies = [n.body_text for n in _notes(session, "overdue_reminder")]
    assert len(bodies) == len(set(bodies))  # never the same message twice


def test_owners_cli_imports_lists_and_refuses_a_bad_file(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    make_site(session, code="NGH")
    session.commit()
    runner = CliRunner()
    good = tmp_path / "owners.csv"
    good.write_text(_register("NGH"))
    result = runner.invoke(app, ["owners", "import", str(good), "--by", "Improvement team"])
    assert result.exit_code == 0, result.output
    assert "4 owners imported from owners.csv" in result.output
    listed = runner.invoke(app, ["owners", "--json"])
    assert listed.exit_code == 0 and "jane.corrigan@trust.example" in listed.output
    assert listed.output.splitlines()[0].startswith('{"level": "matron"')
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "matron,NGH,Renal,Medicine,Ann,nope,\n")
    refused = runner.invoke(app, ["owners", "import", str(bad), "--by", "Improvement team"])
    assert refused.exit_code == 2
    assert "row 2, column 'email'" in refused.stderr and "nothing was imported" in refused.stderr
    session.expire_all()
    assert session.exec(select(func.count()).select_from(EscalationOwner)).one() == 4
    (action,) = session.exec(select(Action)).all()
    assert action.command == "ImportOwners" and action.actor_name == "Improvement team"


def test_a_past_week_replayed_chases_whoever_held_the_request_that_week(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    """The owner history: raised with a named owner outside the register (chased by the team),
    escalated to the directorate, then handed on by a decision. Re-running the week before the
    escalation after all of it reaches the team again, not the directorate's lead or the
    matron the ladder starts from."""
    (lift,) = _triaged(session, settings, tmp_path, "Lift out of order for weeks,change,Estates\n")
    assert (lift.owner, lift.owner_email, lift.escalation_level) == ("Estates", "", "matron")
    assert lift.review_date is not None and lift.id is not None
    first_week = lift.review_date + timedelta(days=3)
    [before] = send_overdue_reminders(session, first_week)
    assert before.recipients == [] and "improvement-team" in before.tags

    escalate_overdue(session, settings, lift.review_date + timedelta(days=14))
    decided = lift.review_date + timedelta(days=16)
    decide_change(
        session, lift.id, ChangeDecision.approve, "Jane Corrigan", "Agreed", "QI", decided
    )
    history = session.exec(
        select(OwnerChange)
        .where(OwnerChange.triage_item_id == lift.id)
        .order_by(col(OwnerChange.id))
    ).all()
    assert [(h.reason, h.owner, h.owner_email, h.level) for h in history] == [
        ("raised", "Estates", "", "matron"),
        ("escalated", "Helen Marsh", "helen.marsh@trust.example", "directorate"),
        ("decided", "Jane Corrigan", "jane.corrigan@trust.example", "directorate"),
    ]
    # The first week again (a re-run after the fact): the same digest, so nothing new is sent.
    assert send_overdue_reminders(session, first_week) == []
    # A later week of each holder: the directorate's lead, then the decision's owner.
    [second] = send_overdue_reminders(session, lift.review_date + timedelta(days=15))
    assert second.recipients == ["helen.marsh@trust.example"]
    [third] = send_overdue_reminders(session, decided + timedelta(days=7))
    assert third.recipients == ["jane.corrigan@trust.example"]
