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
