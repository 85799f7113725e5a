"""What a register means: codes that differ only in case, one name per site, swapped columns,
and a rollout that runs past the planning horizon. Every refusal writes nothing."""

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, func, select

from wardprog.errors import ConflictError, InputFileError
from wardprog.models import Site, Ward
from wardprog.services.programme import horizon_warning, rollout_plan, start_programme
from wardprog.services.register import import_register

HEADER = "site_code,site_name,ward_code,ward_name,specialty,beds,manager_name,manager_email\n"
GOOD = "NGH,Northgate General,NGH-ASH,Ash,Medicine,24,Ann Lee,ann@nhs.example\n"


def write(tmp_path: Path, body: str, name: str = "wards.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def refused(session: Session, path: Path) -> str:
    with pytest.raises(InputFileError) as err:
        import_register(session, path)
    session.rollback()
    assert session.exec(select(func.count()).select_from(Ward)).one() == 0
    return str(err.value)


def test_ward_codes_that_differ_only_in_case_are_one_ward(session, tmp_path):
    message = refused(
        session,
        write(tmp_path, GOOD + "NGH,Northgate General,ngh-ash,Ash,Medicine,24,Bo,bo@nhs.example\n"),
    )
    assert "row 3, column 'ward_code'" in message
    assert "'ngh-ash' already appears on row 2 as 'NGH-ASH'" in message


def test_site_code_in_another_case_is_not_a_new_site(session, tmp_path):
    message = refused(
        session,
        write(
            tmp_path, GOOD + "ngh,Northgate General,NGH-BEE,Beech,Surgery,20,Bo,bo@nhs.example\n"
        ),
    )
    assert "row 3, column 'site_code'" in message and "'ngh' differs only in case" in message


def test_one_site_code_with_two_names_is_refused(session, tmp_path):
    message = refused(
        session,
        write(tmp_path, GOOD + "NGH,Northgate Gen.,NGH-BEE,Beech,Surgery,20,Bo,bo@nhs.example\n"),
    )
    assert "row 3, column 'site_name'" in message
    assert "'Northgate Gen.' here but 'Northgate General' on row 2" in message


def test_site_code_that_is_a_ward_code_is_refused(session, tmp_path):
    message = refused(
        session,
        write(tmp_path, GOOD + "NGH-ASH,Ash,NGH-BEE,Beech,Surgery,20,Bo,bo@nhs.example\n"),
    )
    assert "row 3, column 'site_code'" in message and "columns swapped" in message


def test_case_clash_with_the_registered_wards_is_refused(session, tmp_path):
    import_register(session, write(tmp_path, GOOD))
    session.commit()
    again = write(
        tmp_path, "ngh,Northgate General,ngh-ash,Ash,Medicine,24,Ann,ann@nhs.example\n", "b.csv"
    )
    with pytest.raises(InputFileError) as err:
        import_register(session, again)
    session.rollback()
    message = str(err.value)
    assert "'ngh-ash' differs only in case from ward 'NGH-ASH'" in message
    assert "'ngh' differs only in case from site 'NGH'" in message
    assert [s.code for s in session.exec(select(Site)).all()] == ["NGH"]


def test_rollout_past_the_horizon_is_warned(session, settings, tmp_path):
    rows = "".join(
        f"S{s},Site {s},S{s}-W{w:03d},Ward {w},Med,20,Ann,ann@nhs.example\n"
        for s in range(3)
        for w in range(100)
    )
    import_register(session, write(tmp_path, rows))
    programme, created = start_programme(session, settings, date(2027, 1, 4))
    assert created
    plan = rollout_plan(session, programme)
    assert len(plan) == 20  # 100 wards a site at 5 a wave
    warning = horizon_warning(plan, programme.start_date, settings.rollout_horizon_years)
    assert warning is not None and "20 waves" in warning and "3-year horizon" in warning
    assert horizon_warning(plan[:12], programme.start_date, 3) is None


def test_start_programme_refuses_a_different_start(session, settings):
    programme, created = start_programme(session, settings, date(2026, 1, 2))
    assert created
    same, created = start_programme(session, settings, date(2026, 1, 2))
    assert same.id == programme.id and not created
    assert start_programme(session, settings, None)[0].id == programme.id
    with pytest.raises(ConflictError, match="--start 2027-01-04: the programme already starts"):
        start_programme(session, settings, date(2027, 1, 4))


def test_plan_command_warns_on_stderr_past_the_horizon(settings, tmp_path):
    from typer.testing import CliRunner

    from wardprog.cli import app

    rows = "".join(
        f"S{s},Site {s},S{s}-W{w:03d},Ward {w},Med,20,Ann,ann@nhs.example\n"
        for s in range(3)
        for w in range(100)
    )
    runner = CliRunner()
    assert runner.invoke(app, ["import-wards", str(write(tmp_path, rows))]).exit_code == 0
    result = runner.invoke(app, ["plan", "--start", "2027-01-04"])
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("warning: the rollout needs 20 waves and runs to 2031-12-31")
    assert "Rollout plan from 2027-01-04" in result.stdout
