"""The improvement team's inbox: every register it keeps filed the way ward returns are.

For each kind (ward register, staff, owners, QSIR attendance), on SQLite and PostgreSQL: a good
file is imported and moved to ``processed/``; a bad one writes nothing, lands in ``rejected/``
with an ``.errors.txt`` naming file, row and column, and the team gets exactly one message,
however often the run repeats or the same bad file is dropped again. The CLI (`wardprog inbox
file`) and the daily flow drive the same service; the explicit-path imports leave the file
where it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from tests.utils.programme import Ward, ward_in_programme
from wardprog.cli import app
from wardprog.config import Settings
from wardprog.errors import InputFileError
from wardprog.models import Action, EscalationOwner, Notification, QsirAttendance, StaffMember
from wardprog.models import Ward as WardRow
from wardprog.services.inbox import PROCESSED, REJECTED, team_folder
from wardprog.services.register import read_register
from wardprog.services.team_inbox import file_team_returns

AS_OF = date(2026, 3, 2)
REGISTER_HEADER = (
    "site_code,site_name,ward_code,ward_name,specialty,beds,manager_name,manager_email\n"
)
runner = CliRunner()


@dataclass(frozen=True)
class Case:
    """A good and a bad file of one kind, and how many rows of it the database holds."""

    name: Callable[[Ward], str]
    good: Callable[[Ward], str]
    bad: Callable[[Ward], str]
    says: str  # the errors file names this row and column
    count: Callable[[Session], int]


def _count(model: type) -> Callable[[Session], int]:
    def count(session: Session) -> int:
        return session.exec(select(func.count()).select_from(model)).one()

    return count


CASES: dict[str, Case] = {
    "register": Case(
        name=lambda w: "wards.csv",
        good=lambda w: (
            REGISTER_HEADER
            + "ZZH,Zed Hospital,ZZH-ONE,Ward One,Medicine,20,Ann Lead,ann@trust.nhs.uk\n"
        ),
        bad=lambda w: (
            REGISTER_HEADER
            + "ZZH,Zed Hospital,ZZH-ONE,Ward One,Medicine,20,Ann Lead,ann@trust.nhs.uk\n"
            + "ZZH,Zed Hospital,ZZH-TWO,Ward Two,Medicine,0,Bo Lead,bo@trust.nhs.uk\n"
        ),
        says="row 3, column 'beds'",
        count=_count(WardRow),
    ),
    "staff": Case(
        name=lambda w: "esr.csv",
        good=lambda w: f"Employee Number,Full Name,Ward\n30000009,Ann Example,{w.code}\n",
        bad=lambda w: (
            f"Employee Number,Full Name,Ward\n30000009,Ann Example,{w.code}\n30000010,Bo,XX\n"
        ),
        says="row 3, column 'Ward'",
        count=_count(StaffMember),
    ),
    "owners": Case(
        name=lambda w: "owners.csv",
        good=lambda w: (
            "level,site_code,specialty,directorate,name,email\n"
            "executive,,,,Chief Nurse,cn@trust.nhs.uk\n"
        ),
        bad=lambda w: (
            "level,site_code,specialty,directorate,name,email\n"
            "executive,,,,Chief Nurse,cn@trust.nhs.uk\nboss,,,,Someone,s@trust.nhs.uk\n"
        ),
        says="row 3, column 'level'",
        count=_count(EscalationOwner),
    ),
    "attendance": Case(
        name=lambda w: f"{w.cohort}_{w.cohort_days[0].isoformat()}.csv",
        good=lambda w: f"staff_number,attended\n{w.nominees[0]},yes\n{w.nominees[1]},no\n",
        bad=lambda w: f"staff_number,attended\n{w.nominees[0]},yes\n{w.nominees[1]},maybe\n",
        says="row 3, column 'attended'",
        count=_count(QsirAttendance),
    ),
}


@pytest.fixture
def ward(session: Session, settings: Settings, tmp_path: Path) -> Ward:
    """A ward through engagement, triage and QSIR: staff, a cohort and two nominees."""
    return ward_in_programme(session, settings, tmp_path)


def _drop(settings: Settings, kind: str, name: str, text: str) -> Path:
    folder = team_folder(settings, kind)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def _rejections(session: Session) -> list[Notification]:
    session.expire_all()
    return list(session.exec(select(Notification).where(Notification.kind == "file_rejected")))


@pytest.mark.parametrize("kind", sorted(CASES))
def test_good_file_is_imported_and_filed_in_processed(
    session: Session, settings: Settings, ward: Ward, kind: str
) -> None:
    case = CASES[kind]
    before = case.count(session)
    path = _drop(settings, kind, case.name(ward), case.good(ward))

    (filed,) = file_team_returns(None, settings, AS_OF)

    assert (filed.kind, filed.file, filed.outcome) == (kind, path.name, "filed")
    assert not path.exists()
    assert (path.parent / PROCESSED / path.name).read_text() == case.good(ward)
    session.expire_all()
    assert case.count(session) > before
    assert file_team_returns(None, settings, AS_OF) == []  # nothing is filed twice
    assert _rejections(session) == []


@pytest.mark.parametrize("kind", sorted(CASES))
def test_bad_file_is_rejected_whole_with_its_errors_and_one_message(
    session: Session, settings: Settings, ward: Ward, kind: str
) -> None:
    case = CASES[kind]
    before = case.count(session)
    actions_before = len(session.exec(select(Action)).all())
    path = _drop(settings, kind, case.name(ward), case.bad(ward))

    (filed,) = file_team_returns(None, settings, AS_OF)

    assert filed.outcome == "rejected" and case.says in filed.summary
    rejected = path.parent / REJECTED / path.name
    assert not path.exists() and rejected.read_text() == case.bad(ward)
    errors = (path.parent / REJECTED / f"{path.name}.errors.txt").read_text()
    assert f"{path.name}, {case.says}" in errors
    assert "Nothing from this file has been recorded." in errors
    session.expire_all()
    assert case.count(session) == before  # not even the good first row
    assert len(session.exec(select(Action)).all()) == actions_before

    # Run again, then drop the same bad file again: one message still, to the team alone.
    assert file_team_returns(None, settings, AS_OF) == []
    _drop(settings, kind, case.name(ward), case.bad(ward))
    (again,) = file_team_returns(None, settings, AS_OF)
    assert again.outcome == "rejected"
    assert len(list((path.parent / REJECTED).glob("*.errors.txt"))) == 2  # never overwritten
    (message,) = _rejections(session)
    assert message.tags == ["improvement-team"] and message.ward_code is None
    assert message.recipients == []
    assert path.name in message.body_text and case.says in message.body_text
    assert " for " not in message.subject  # no ward in "Staff register needs correcting"


def test_attendance_file_must_name_cohort_and_day(
    session: Session, settings: Settings, ward: Ward
) -> None:
    path = _drop(settings, "attendance", "register.csv", f"staff_number\n{ward.nominees[0]}\n")
    (filed,) = file_team_returns(None, settings, AS_OF)
    assert filed.outcome == "rejected" and "must give the cohort and teaching day" in filed.summary
    assert (path.parent / REJECTED / "register.csv.errors.txt").exists()
    session.expire_all()
    assert session.exec(select(QsirAttendance)).all() == []


def test_one_bad_file_does_not_stop_the_others(
    session: Session, settings: Settings, ward: Ward
) -> None:
    """Each file is its own transaction: staff is filed though the owners file is refused."""
    _drop(settings, "owners", "owners.csv", CASES["owners"].bad(ward))
    _drop(settings, "staff", "esr.csv", CASES["staff"].good(ward))
    filed = file_team_returns(None, settings, AS_OF)
    assert [(f.kind, f.outcome) for f in filed] == [("staff", "filed"), ("owners", "rejected")]


def test_cli_files_every_team_return_and_prints_json(
    session: Session, settings: Settings, ward: Ward, tmp_path: Path
) -> None:
    _drop(settings, "staff", "esr.csv", CASES["staff"].good(ward))
    _drop(settings, "owners", "owners.csv", CASES["owners"].bad(ward))
    result = runner.invoke(app, ["inbox", "file", "--as-of", AS_OF.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["kind"], r["file"], r["outcome"]) for r in rows] == [
        ("staff", "esr.csv", "filed"),
        ("owners", "owners.csv", "rejected"),
    ]
    (staff_action,) = session.exec(select(Action).where(Action.command == "ImportStaff")).all()
    assert staff_action.source_kind == "file" and staff_action.acted_on == AS_OF
    again = runner.invoke(app, ["inbox", "file"])
    assert again.exit_code == 0 and "No team files waiting" in again.stdout
    assert len(_rejections(session)) == 1

    bad_date = runner.invoke(app, ["inbox", "file", "--as-of", "2026-13-01"])
    assert bad_date.exit_code == 2 and "is not a date" in bad_date.stderr

    # The explicit-path import still leaves the user's file where it is.
    own = tmp_path / "my-esr.csv"
    own.write_text(CASES["staff"].good(ward))
    assert runner.invoke(app, ["staff", "import", str(own), "--by", "Workforce"]).exit_code == 0
    assert own.exists()


def test_file_team_returns_flow(settings: Settings, ward: Ward, prefect_harness: None) -> None:
    from flows.team_inbox import file_team_returns as flow

    _drop(settings, "staff", "esr.csv", CASES["staff"].good(ward))
    _drop(settings, "owners", "owners.csv", CASES["owners"].bad(ward))
    result = flow(as_of=AS_OF)
    assert (result["filed"], result["rejected"]) == (1, 1)
    assert flow(as_of=AS_OF)["files"] == []


def test_register_refuses_the_team_folder_as_a_ward_code(tmp_path: Path) -> None:
    path = tmp_path / "wards.csv"
    path.write_text(REGISTER_HEADER + "ZZH,Zed Hospital,team,Team,Medicine,20,A,a@trust.nhs.uk\n")
    with pytest.raises(InputFileError) as err:
        read_register(path)
    assert "reserved for the improvement team" in str(err.value.problems[0])
