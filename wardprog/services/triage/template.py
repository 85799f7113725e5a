"""The staff-facing triage template (Excel and CSV) and reading it back.

Ward managers get both: Excel for the ward office PC (with a category drop-down and guidance),
CSV for anyone filling it in on something else. Returned files are read strictly: every bad
cell is reported with its file, row (as the spreadsheet shows it) and column, and a file with
any problem is rejected whole so an item is never half imported.
"""

from __future__ import annotations

import csv
import io
import mimetypes
from collections.abc import Sequence
from pathlib import Path

from openpyxl.styles import Alignment, Font
from openpyxl.worksheet.datavalidation import DataValidation

from wardprog.errors import InputFileError, RowProblem
from wardprog.rules.triage import (
    CATEGORIES,
    COLUMNS,
    REQUIRED_COLUMNS,
    RawTriageRow,
    TriageEntry,
    validate_rows,
)
from wardprog.sources.tabular import append_text_row, headed_sheet, read_table

SHEET = "Triage"
GUIDANCE_SHEET = "How to fill this in"
TEMPLATE_ROWS = 60
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv"

CALENDAR_CONTENT_TYPE = "text/calendar"


def register_attachment_types() -> None:
    """Make sure this process knows the attachment types we send.

    apprise only accepts MIME types listed in :mod:`mimetypes`, which reads them from the host's
    ``/etc/mime.types``; slim containers lack it, and invites would then fail to send. Adding
    the standard types is additive and idempotent.
    """
    mimetypes.add_type(CALENDAR_CONTENT_TYPE, ".ics")
    mimetypes.add_type(XLSX_CONTENT_TYPE, ".xlsx")
    mimetypes.add_type(CSV_CONTENT_TYPE, ".csv")


register_attachment_types()

HEADERS: tuple[str, ...] = ("Issue", "Raised by", "Category", "Suggested owner", "Notes")

GUIDANCE: tuple[str, ...] = (
    "One row per issue raised at the engagement event.",
    "Issue: what gets in the way, in staff's own words (required).",
    "Raised by: optional - leave blank or write 'anonymous' if staff prefer not to be named.",
    "Category (required): fix = the ward can sort it; improve = needs testing and measuring "
    "as a QI project; change = needs resource or permission from outside the ward.",
    "Suggested owner: optional - who should lead it (defaults: fix/improve = ward manager, "
    "change = improvement team / directorate).",
    "Notes: anything else the improvement team should know.",
    "Save and return the file to the improvement team; it will be checked and you will get a "
    "'you said, we will' summary back.",
)


def template_filename(ward_code: str, wave_number: int, suffix: str) -> str:
    return f"triage-{ward_code}-wave{wave_number}{suffix}"


def build_xlsx(ward_code: str, ward_name: str, wave_number: int) -> bytes:
    wb, ws = headed_sheet(SHEET, HEADERS)
    for cell in ws[1]:
        cell.alignment = Alignment(vertical="center")
    for letter, width in zip("ABCDE", (60, 22, 14, 26, 40), strict=True):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "A2"
    choice = DataValidation(
        type="list",
        formula1='"' + ",".join(CATEGORIES) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Category",
        error="Choose fix, improve or change",
    )
    ws.add_data_validation(choice)
    choice.add(f"C2:C{TEMPLATE_ROWS + 1}")
    guide = wb.create_sheet(GUIDANCE_SHEET)
    # Register text goes in as text: a spreadsheet we write never runs what someone typed.
    append_text_row(guide, [f"Triage template - {ward_name} ({ward_code}), wave {wave_number}"])
    guide["A1"].font = Font(bold=True, size=14)
    for line in GUIDANCE:
        guide.append([line])
    guide.column_dimensions["A"].width = 120
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def build_csv() -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADERS)
    # UTF-8 with BOM: Excel on Windows otherwise mangles names like "Siân".
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _header_map(path: Path, header: Sequence[str]) -> tuple[dict[str, int], list[RowProblem]]:
    names = [" ".join(str(h or "").replace("_", " ").split()).casefold() for h in header]
    found = {name: i for i, name in enumerate(names) if name in COLUMNS}
    problems = [
        RowProblem(1, col, "column is missing from the header row; use the template's headers")
        for col in REQUIRED_COLUMNS
        if col not in found
    ]
    return found, problems


def _cell(values: Sequence[str], index: int | None) -> str | None:
    if index is None or index >= len(values):
        return None
    return values[index] or None


def read_rows(path: Path, data: bytes | None = None) -> list[RawTriageRow]:
    """Raw rows from a returned template; structural problems raise :class:`InputFileError`.

    Any file kind is answered (``.xls``, ``.ods``... are rejected with "save as .xlsx or .csv");
    row numbers are the spreadsheet's, blank lines included.
    """
    sheet = read_table(path, data, sheet_name=SHEET)
    columns, problems = _header_map(path, sheet.header)
    if problems:
        raise InputFileError(path, problems)
    return [
        RawTriageRow(
            row=row,
            issue=_cell(values, columns.get("issue")),
            raised_by=_cell(values, columns.get("raised by")),
            category=_cell(values, columns.get("category")),
            suggested_owner=_cell(values, columns.get("suggested owner")),
            notes=_cell(values, columns.get("notes")),
        )
        for row, values in sheet.rows
    ]


def parse_template(path: Path, data: bytes | None = None) -> list[TriageEntry]:
    """Validated entries from a returned template, or :class:`InputFileError` with every problem."""
    entries, problems = validate_rows(read_rows(path, data))
    if problems:
        raise InputFileError(path, problems)
    return entries
