"""Ward register import: all rows or none, errors naming file, row and column."""

from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel, func, select

from wardprog.errors import InputFileError
from wardprog.models import Site, Ward
from wardprog.services.register import demo_register_path, import_register

HEADER = (
    "site_code,site_name,ward_code,ward_name,specialty,beds,manager_name,manager_email,priority\n"
)


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "wards.csv"
    path.write_text(header + body, encoding="utf-8")
    return path


def count(session: Session, model: type[SQLModel]) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_demo_register_imports_60_wards_on_3_sites_and_is_idempotent(session):
    first = import_register(session, demo_register_path())
    session.commit()
    assert (first.sites_added, first.wards_added) == (3, 60)
    again = import_register(session, demo_register_path())
    session.commit()
    assert (again.sites_added, again.wards_added, again.wards_updated) == (0, 0, 0)
    assert count(session, Ward) == 60 and count(session, Site) == 3


def test_bad_rows_name_row_and_column_and_write_nothing(session, tmp_path):
    path = write(
        tmp_path,
        "A,Alpha,A-1,One,Med,20,Ann Lee,ann@nhs.example,\n"
        "A,Alpha,A-2,Two,Med,lots,Bob Ray,bob@nhs.example,\n"
        "A,Alpha,A-3,Three,Med,20,Cat Poe,not-an-email,\n"
        "A,Alpha,A-1,Dup,Med,20,Dan Fox,dan@nhs.example,\n",
    )
    with pytest.raises(InputFileError) as err:
        import_register(session, path)
    session.rollback()
    message = str(err.value)
    assert "wards.csv" in message and "nothing was imported" in message
    assert "row 3, column 'beds'" in message
    assert "row 4, column 'manager_email'" in message
    assert "row 5, column 'ward_code'" in message and "row 2" in message
    assert count(session, Ward) == 0 and count(session, Site) == 0


def test_missing_column_and_empty_file(session, tmp_path):
    path = write(tmp_path, "A,Alpha,A-1\n", header="site_code,site_name,ward_code\n")
    with pytest.raises(InputFileError, match="row 1, column 'beds'"):
        import_register(session, path)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputFileError, match="empty"):
        import_register(session, empty)


def test_update_in_place(session, tmp_path):
    import_register(session, write(tmp_path, "A,Alpha,A-1,One,Med,20,Ann Lee,ann@nhs.example,\n"))
    session.commit()
    result = import_register(
        session, write(tmp_path, "A,Alpha,A-1,One,Med,24,Ann Lee,ann.lee@nhs.example,2\n")
    )
    session.commit()
    assert result.wards_updated == 1
    ward = session.exec(select(Ward)).one()
    assert (ward.beds, ward.manager_email, ward.priority) == (24, "ann.lee@nhs.example", 2)
