"""The real CLI against a real database (typer's runner)."""

from typer.testing import CliRunner

from wardprog.cli import app
from wardprog.services.register import demo_register_path

runner = CliRunner()


def test_import_plan_and_status(settings):
    from sqlmodel import SQLModel

    from wardprog.db import get_engine

    SQLModel.metadata.create_all(get_engine(settings.database_url))
    result = runner.invoke(app, ["import-wards", str(demo_register_path())])
    assert result.exit_code == 0, result.output
    assert "wards added 60" in result.output
    result = runner.invoke(app, ["plan"])
    assert result.exit_code == 0, result.output
    assert "2026-10-01" in result.output and "NGH-ASH" in result.output
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert "not yet enrolled 60" in result.output


def test_bad_register_exits_2_with_row_and_column(settings, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "site_code,site_name,ward_code,ward_name,specialty,beds,manager_name,manager_email\n"
        "A,Alpha,A-1,One,Med,-3,Ann,ann@nhs.example\n"
    )
    result = runner.invoke(app, ["import-wards", str(bad)])
    assert result.exit_code == 2
    assert "bad.csv" in result.output and "row 2, column 'beds'" in result.output


def test_venues_and_facilitators(settings):
    from sqlmodel import Session, SQLModel, select

    from wardprog.db import get_engine
    from wardprog.models import Facilitator, Venue

    engine = get_engine(settings.database_url)
    SQLModel.metadata.create_all(engine)
    assert runner.invoke(app, ["import-wards", str(demo_register_path())]).exit_code == 0
    result = runner.invoke(
        app, ["venues", "add", "--site", "NGH", "--name", "Seminar room 2", "--capacity", "30"]
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["venues", "add", "--site", "XXX", "--name", "Room"])
    assert result.exit_code == 2 and "no site with code 'XXX'" in result.output
    result = runner.invoke(
        app, ["facilitators", "add", "Jo Bloggs", "jo@nhs.example", "--days", "mon,wed"]
    )
    assert result.exit_code == 0, result.output
    leave = ["facilitators", "leave"]
    result = runner.invoke(
        app, [*leave, "add", "jo@nhs.example", "--from", "2026-03-02", "--to", "2026-03-04"]
    )
    assert result.exit_code == 0, result.output
    assert "2026-03-02 to 2026-03-04" in result.output
    # Additive: a second range keeps the first; removing the middle day splits the range.
    assert (
        runner.invoke(app, [*leave, "add", "jo@nhs.example", "--from", "2026-04-10"]).exit_code == 0
    )
    result = runner.invoke(app, [*leave, "remove", "jo@nhs.example", "--from", "2026-03-03"])
    assert result.exit_code == 0 and "1 day(s) removed" in result.output, result.output
    listing = runner.invoke(app, [*leave, "list", "jo@nhs.example"]).output
    assert "2026-03-02" in listing and "2026-03-04" in listing and "2026-04-10" in listing
    result = runner.invoke(
        app, [*leave, "add", "jo@nhs.example", "--from", "2026-03-09", "--to", "2026-03-02"]
    )
    assert result.exit_code == 2 and "2026-03-02 is before" in result.output, result.output
    result = runner.invoke(
        app, ["facilitators", "add", "Sam", "sam@nhs.example", "--days", "sat,sun"]
    )
    assert result.exit_code == 2 and "Saturday, Sunday" in result.output, result.output
    result = runner.invoke(app, ["facilitators", "add", "X", "jo@nhs.example", "--days", "funday"])
    assert result.exit_code != 0
    assert "Jo Bloggs" in runner.invoke(app, ["facilitators", "list"]).output
    assert "Seminar room 2" in runner.invoke(app, ["venues", "list"]).output
    with Session(engine) as session:
        venue = session.exec(select(Venue)).one()
        person = session.exec(select(Facilitator)).one()
    assert (venue.capacity, person.working_days) == (30, [0, 2])
    assert person.unavailable_dates == ["2026-03-02", "2026-03-04", "2026-04-10"]
