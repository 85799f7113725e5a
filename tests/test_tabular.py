"""Files as Excel writes them: one reader for every imported spreadsheet, safe cells out."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import Session, select

from tests.utils.factories import make_site, make_ward
from wardprog.config import Settings
from wardprog.errors import InputFileError
from wardprog.models import Site, StaffMember, Ward
from wardprog.services.register import import_register, read_register
from wardprog.services.staff_register import import_staff
from wardprog.services.triage.template import build_xlsx, parse_template
from wardprog.sources.tabular import (
    append_text_row,
    read_table,
    safe_cell,
    write_csv,
)

REGISTER_HEADER = (
    "site_code,site_name,ward_code,ward_name,specialty,beds,manager_name,manager_email\r\n"
)
# Excel turns a typed apostrophe into a curly one (not in Latin-1, but in Windows-1252).
CURLY = "\u2019"
ROW_ONE = "NGH,Northfield General,NGH-ASH,Ash Ward,Medicine,28,Siân Jones,sian.jones@trust.example"
ROW_TWO = (
    f"SMH,St Mary{CURLY}s Hospital,SMH-OAK,Oak Ward,Surgery,24,Ann O{CURLY}Neill,"
    "ann.oneill@trust.example"
)


def test_cp1252_register_with_curly_apostrophe_imports(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "register.csv"  # Excel's "CSV (Comma delimited)" on a trust desktop
    path.write_bytes((REGISTER_HEADER + ROW_ONE + "\r\n" + ROW_TWO + "\r\n").encode("cp1252"))
    result = import_register(session, path)
    session.commit()
    assert (result.sites_added, result.wards_added) == (2, 2)
    assert (
        session.exec(select(Site.name).where(Site.code == "SMH")).one()
        == f"St Mary{CURLY}s Hospital"
    )
    oak = session.exec(select(Ward).where(Ward.code == "SMH-OAK")).one()
    assert oak.manager_name == f"Ann O{CURLY}Neill"
    ash = session.exec(select(Ward).where(Ward.code == "NGH-ASH")).one()
    assert ash.manager_name == "Siân Jones"


def test_semicolon_register_with_bom_spaces_and_trailing_blank_rows(
    session: Session, tmp_path: Path
) -> None:
    text = (REGISTER_HEADER + " " + ROW_ONE + " \r\n" + ROW_TWO + "\r\n;;;\r\n\r\n").replace(
        ",", ";"
    )
    path = tmp_path / "register.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert import_register(session, path).wards_added == 2
    assert session.exec(select(Ward.code).order_by(Ward.code)).all() == ["NGH-ASH", "SMH-OAK"]


def test_blank_line_in_a_register_names_the_right_row(tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    bad = ROW_TWO.replace(",24,", ",lots,")
    path.write_text(REGISTER_HEADER + ROW_ONE + "\r\n\r\n" + bad + "\r\n", encoding="utf-8")
    with pytest.raises(InputFileError) as err:
        read_register(path)
    (problem,) = err.value.problems
    assert (problem.row, problem.column) == (4, "beds")  # as the spreadsheet numbers it


def test_register_reads_xlsx_with_spreadsheet_row_numbers(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(REGISTER_HEADER.strip().split(","))
    ws.append(ROW_ONE.split(","))
    ws.append([])
    ws.append(ROW_TWO.replace("ann.oneill@trust.example", "not-an-email").split(","))
    path = tmp_path / "register.xlsx"
    wb.save(path)
    with pytest.raises(InputFileError) as err:
        read_register(path)
    (problem,) = err.value.problems
    assert (problem.row, problem.column) == (4, "manager_email")


def test_bom_staff_extract_imports(session: Session, tmp_path: Path) -> None:
    site = make_site(session, code="NGH")
    make_ward(session, site, code="NGH-ASH")
    session.commit()
    path = tmp_path / "esr.csv"
    path.write_bytes(
        "\ufeffEmployee Number,Full Name,Position Title,Pay Band,Ward,Email Address\r\n"
        "20000001,Siân Evans,Staff Nurse,Band 5,NGH-ASH,sian.evans@trust.example\r\n"
        "\r\n"
        f"20000002 , Bartholomew O{CURLY}Hara ,HCA,3,ngh-ash,\r\n".encode()
    )
    assert import_staff(session, path) == 2
    session.commit()
    names = session.exec(select(StaffMember.name).order_by(StaffMember.staff_number)).all()
    assert names == ["Siân Evans", f"Bartholomew O{CURLY}Hara"]


def test_blank_line_in_staff_extract_names_the_right_row(session: Session, tmp_path: Path) -> None:
    site = make_site(session, code="NGH")
    make_ward(session, site, code="NGH-ASH")
    path = tmp_path / "staff.csv"
    path.write_text("staff_number,name,ward_code\n1,A,NGH-ASH\n\n\n2,B,NGH-ZZZ\n")
    with pytest.raises(InputFileError) as err:
        import_staff(session, path)
    (problem,) = err.value.problems
    assert (problem.row, problem.column) == (5, "ward_code")


def _xlsx_bytes() -> bytes:
    buf = io.BytesIO()
    wb = Workbook()
    wb.save(buf)
    return buf.getvalue()


def _ods_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    return buf.getvalue()


OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("return.xls", OLE2, "Excel 97-2003 workbook (.xls)"),
        ("return.xlsx", OLE2, "Excel 97-2003 workbook (.xls)"),  # .xls renamed .xlsx
        ("return.ods", _ods_bytes(), "OpenDocument spreadsheet (.ods)"),
        ("return.numbers", b"numbers", "Apple Numbers spreadsheet (.numbers)"),
        ("return.pdf", b"%PDF-1.4", "a PDF"),
        ("return", b"Issue,Category\n", "a file without an extension"),
        ("return.csv", _xlsx_bytes(), "an Excel workbook named .csv"),
        ("return.xlsx", b"Issue,Category\nx,fix\n", "a text file named .xlsx"),
        ("renamed.xlsx", _ods_bytes(), ".ods or .numbers renamed"),
        ("binary.csv", b"\x00\x01\x02junk", "not a text CSV"),
    ],
)
def test_every_other_kind_is_answered_with_save_as(
    tmp_path: Path, name: str, content: bytes, says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError) as err:
        read_table(path)
    text = str(err.value)
    assert says in text and "save it as .xlsx or .csv" in text
    with pytest.raises(InputFileError, match=r"save it as \.xlsx or \.csv"):
        parse_template(path)  # a triage return of that kind is rejected with the same answer


def test_a_folder_is_answered_too(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"folder, not a spreadsheet; save it as \.xlsx"):
        read_table(tmp_path)


def test_formula_in_staff_text_comes_back_from_our_xlsx_as_text(tmp_path: Path) -> None:
    staff_text = ['=HYPERLINK("http://127.0.0.1/x","click")', "+44 7700 900123", "-1", "@SUM(A1)"]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    append_text_row(ws, ["Issue", "Notes", "Score", "Owner"])
    append_text_row(ws, [*staff_text[:2], 3.5, staff_text[3]])
    append_text_row(ws, [staff_text[2], None, 2, "Sister Jones"])
    path = tmp_path / "ours.xlsx"
    wb.save(path)

    back = load_workbook(path)  # not data_only: a formula would come back as a formula
    sheet = back.active
    assert sheet is not None
    cells = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert cells == [
        [*staff_text[:2], 3.5, staff_text[3]],
        [staff_text[2], None, 2, "Sister Jones"],
    ]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert [n for n, _ in read_table(path).rows] == [2, 3]


def test_register_text_in_the_triage_template_is_text() -> None:
    data = build_xlsx("NGH-ASH", "=cmd|' /C calc'!A0", 1)
    guide = load_workbook(io.BytesIO(data))["How to fill this in"]
    assert guide["A1"].data_type == "s"
    assert guide["A1"].value.startswith("Triage template - =cmd")


def test_csv_we_write_neutralises_formulas(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "out.csv", ["staff_number", "approved_by"], [["N1", "=1+2"], ["N2", "@x"]]
    )
    text = path.read_text(encoding="utf-8-sig")
    assert text.splitlines() == ["staff_number,approved_by", "N1,'=1+2", "N2,'@x"]
    assert safe_cell("Sister Jones") == "Sister Jones" and safe_cell(3) == 3
    assert not list(tmp_path.glob("*.tmp"))


def test_import_wards_cli_reads_cp1252_and_answers_xls_without_a_traceback(
    settings: Settings, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from wardprog.cli import app

    path = tmp_path / "register.csv"
    path.write_bytes((REGISTER_HEADER + ROW_ONE + "\r\n" + ROW_TWO + "\r\n").encode("cp1252"))
    ok = CliRunner().invoke(app, ["import-wards", str(path)])
    assert ok.exit_code == 0, ok.output
    assert "wards added 2" in ok.stdout
    xls = tmp_path / "register.xls"
    xls.write_bytes(OLE2)
    bad = CliRunner().invoke(app, ["import-wards", str(xls)])
    assert bad.exit_code == 2
    said = " ".join(bad.output.split())  # the console may wrap long lines
    assert "Excel 97-2003 workbook (.xls); save it as .xlsx or .csv" in said
    assert "Traceback" not in bad.output
