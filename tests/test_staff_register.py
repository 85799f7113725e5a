"""Staff extract import: upsert by staff number, every bad cell reported, nothing half written."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from sqlmodel import select

from tests.utils.factories import make_site, make_ward
from wardprog.demo.staff import write_staff_extract
from wardprog.errors import InputFileError
from wardprog.models import StaffMember
from wardprog.services.staff_register import import_staff, normalise_band

HEADER = ["staff_number", "name", "role", "band", "ward_code", "email"]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def wards(session):
    site = make_site(session, code="NTH")
    return make_ward(session, site, code="NTH-W01"), make_ward(session, site, code="NTH-W02")


def test_import_then_upsert(session, wards, tmp_path):
    first = write_csv(
        tmp_path / "staff.csv",
        [
            ["20000001", "Priya Patel", "Staff Nurse", "5", "NTH-W01", "priya.patel@trust.example"],
            ["20000002", "Tom Hughes", "Healthcare Assistant", "Band 2", "nth-w02", ""],
        ],
    )
    assert import_staff(session, first) == 2
    session.commit()
    # Next month's extract: Priya promoted and moved ward; Tom's blank email keeps nothing new.
    second = write_csv(
        tmp_path / "staff2.csv",
        [
            [
                "20000001",
                "Priya Patel",
                "Deputy Sister",
                "band 6",
                "NTH-W02",
                "PRIYA.PATEL@trust.example",
            ]
        ],
    )
    assert import_staff(session, second) == 1
    session.commit()
    rows = {s.staff_number: s for s in session.exec(select(StaffMember)).all()}
    assert len(rows) == 2
    priya = rows["20000001"]
    assert (priya.role, priya.band, priya.ward_id) == ("Deputy Sister", "Band 6", wards[1].id)
    assert priya.email == "priya.patel@trust.example"
    assert rows["20000002"].band == "Band 2"


def test_esr_style_headings_and_excel(session, wards, tmp_path):
    path = tmp_path / "esr.xlsx"
    pd.DataFrame(
        {
            "Employee Number": [30000001.0],  # typed as a number in Excel
            "Full Name": ["Ada Okafor"],
            "Position Title": ["Staff Nurse"],
            "Pay Band": ["Band 5"],
            "Ward Code": ["NTH-W01"],
            "Email Address": ["ada.okafor@trust.example"],
        }
    ).to_excel(path, index=False)
    assert import_staff(session, path) == 1
    member = session.exec(select(StaffMember)).one()
    assert (member.staff_number, member.name) == ("30000001", "Ada Okafor")


def test_windows_1252_csv(session, wards, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(
        "staff_number,name,ward_code\n20000003,Zoë Ní Bhriain,NTH-W01\n".encode("cp1252")
    )
    assert import_staff(session, path) == 1
    assert session.exec(select(StaffMember)).one().name == "Zoë Ní Bhriain"


def test_bad_extract_names_every_row_and_column_and_writes_nothing(session, wards, tmp_path):
    write_csv(tmp_path / "ok.csv", [["20000009", "Existing Person", "", "", "NTH-W01", ""]])
    import_staff(session, tmp_path / "ok.csv")
    session.commit()
    bad = write_csv(
        tmp_path / "bad.csv",
        [
            ["20000001", "Good Row", "Staff Nurse", "5", "NTH-W01", "good@trust.example"],
            ["20000002", "Wrong Ward", "Staff Nurse", "5", "XYZ-W99", ""],
            ["20000001", "Dupe Number", "Staff Nurse", "5", "NTH-W01", ""],
            ["", "No Number", "", "Band 12", "NTH-W01", "not-an-email"],
            ["20000009", "Existing Person Renamed", "", "", "NTH-W01", ""],
        ],
    )
    with pytest.raises(InputFileError) as info:
        import_staff(session, bad)
    err = info.value
    where = {(p.row, p.column) for p in err.problems}
    assert (3, "ward_code") in where
    assert (4, "staff_number") in where
    assert {(5, "staff_number"), (5, "band"), (5, "email")} <= where
    text = str(err)
    assert (
        "bad.csv" in text
        and "XYZ-W99" in text
        and "row 2" in text
        and "nothing was imported" in text
    )
    session.rollback()
    names = [s.name for s in session.exec(select(StaffMember)).all()]
    assert names == ["Existing Person"]  # neither the good rows nor the update were written


def test_missing_columns_and_unknown_file(session, wards, tmp_path):
    path = write_csv(tmp_path / "cols.csv", [["1", "x"]], header=["staff_number", "surname"])
    with pytest.raises(InputFileError) as info:
        import_staff(session, path)
    assert {p.column for p in info.value.problems} == {"name", "ward_code"}
    assert "surname" in str(info.value)
    with pytest.raises(InputFileError, match="file not found"):
        import_staff(session, tmp_path / "nope.csv")
    (tmp_path / "staff.txt").write_text("x")
    with pytest.raises(InputFileError, match=r"save it as \.xlsx or \.csv"):
        import_staff(session, tmp_path / "staff.txt")


def test_demo_extract_imports_for_every_ward(session, tmp_path):
    site = make_site(session, code="STH")
    wards = [make_ward(session, site, code=f"STH-W{i:02d}") for i in range(1, 5)]
    path = write_staff_extract([(w.code, w.manager_name) for w in wards], tmp_path / "s.csv")
    again = write_staff_extract([(w.code, w.manager_name) for w in wards], tmp_path / "t.csv")
    assert path.read_text() == again.read_text()  # seeded: the same trust every time
    count = import_staff(session, path)
    staff = session.exec(select(StaffMember)).all()
    assert count == len(staff)
    per_ward = {w.id: [s for s in staff if s.ward_id == w.id] for w in wards}
    for ward in wards:
        people = per_ward[ward.id]
        assert 20 <= len(people) <= 30
        managers = [s for s in people if s.role == "Ward Manager"]
        assert [m.name for m in managers] == [ward.manager_name]
        assert all(s.band.startswith("Band ") for s in people)
    assert len({s.email for s in staff}) == len(staff)


@pytest.mark.parametrize(
    ("raw", "band"),
    [("5", "Band 5"), ("Band 6", "Band 6"), ("band 8A", "Band 8a"), ("12", None), ("B5", None)],
)
def test_band_normalisation(raw, band):
    assert normalise_band(raw) == band
