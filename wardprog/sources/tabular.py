"""One reader for every spreadsheet a person gives wardprog, and safe cells for those we write.

Ward registers, staff extracts, triage templates and nomination returns are all saved by Excel
on a trust desktop, so they arrive as Excel writes them: UTF-8 with or without a BOM, or
Windows-1252 ("CSV (Comma delimited)"), comma- or semicolon-delimited (a European locale),
with trailing blank rows and stray spaces, or as ``.xlsx``. Every other kind (``.xls``,
``.ods``, ``.numbers``, a workbook renamed ``.csv``, a folder) is answered with an
:class:`InputFileError` saying to save it as .xlsx or .csv, never a traceback.

Row numbers are the ones the spreadsheet shows: the header is row 1 and blank lines count, so
an error names the row a person can find (``csv.DictReader`` skips blank lines and drifts).
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from wardprog.errors import InputFileError, RowProblem

SAVE_AS = (
    "save it as .xlsx or .csv (in Excel: Save As, Excel Workbook or CSV UTF-8) and send it again"
)
SUPPORTED_SUFFIXES = (".csv", ".xlsx", ".xlsm")

_ZIP_MAGIC = b"PK\x03\x04"
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # Excel 97-2003 .xls (and old .doc)
_KNOWN_KINDS = {
    ".xls": "an Excel 97-2003 workbook (.xls)",
    ".ods": "an OpenDocument spreadsheet (.ods)",
    ".numbers": "an Apple Numbers spreadsheet (.numbers)",
    ".xlsb": "an Excel binary workbook (.xlsb)",
    ".pdf": "a PDF",
    ".docx": "a Word document",
    ".doc": "a Word document",
}
# Characters a spreadsheet treats as the start of a formula (and tab/CR, which Excel strips
# before looking): staff text starting with one is written as text, never run.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Sheet:
    """A user's file as trimmed text cells, each data row with its spreadsheet row number."""

    path: Path
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (spreadsheet row, cells padded to the header's width)
    header_row: int = 1

    def records(self) -> list[tuple[int, dict[str, str]]]:
        """Each data row as heading -> value (headings as they appear in the file)."""
        return [(n, dict(zip(self.header, cells, strict=False))) for n, cells in self.rows]


def _fail(path: Path, message: str, row: int | None = None) -> InputFileError:
    return InputFileError(path, [RowProblem(row, None, message)])


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # staff numbers and beds typed as numbers come back as 28.0
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def decode_text(path: Path, data: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode Text"), else Windows-1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise _fail(path, f"cannot read the text encoding ({exc.reason}); {SAVE_AS}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # "CSV (Comma delimited)" saved by Excel on a trust desktop is Windows-1252.
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise _fail(path, f"cannot read the text encoding ({exc.reason}); {SAVE_AS}") from exc


def sniff_delimiter(text: str) -> str:
    """``,`` unless the header line has more semicolons (or tabs) outside quotes."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    counts: dict[str, int] = {",": 0, ";": 0, "\t": 0}
    quoted = False
    for ch in first:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _is_xlsx_zip(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _csv_table(path: Path, data: bytes) -> list[list[str]]:
    if b"\x00" in data[:4096] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _fail(path, f"this is not a text CSV file; {SAVE_AS}")
    text = decode_text(path, data)
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
        # One record per spreadsheet row (a quoted cell may span lines); blank lines are kept
        # as empty records so the numbering matches the spreadsheet.
        return [[c.strip() for c in record] for record in reader]
    except csv.Error as exc:
        raise _fail(path, f"not a valid CSV file ({exc}); {SAVE_AS}") from exc


def _xlsx_table(path: Path, data: bytes, sheet_name: str | None) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged workbook
        problem = f"not a readable Excel workbook ({type(exc).__name__}); {SAVE_AS}"
        raise _fail(path, problem) from exc
    try:
        ws = wb[sheet_name] if sheet_name in wb.sheetnames else wb.worksheets[0]
        # Read-only sheets yield every row from the first, empty ones included, so the position
        # in this list is the spreadsheet row number.
        return [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def read_table(path: Path, data: bytes | None = None, *, sheet_name: str | None = None) -> Sheet:
    """Read a CSV or .xlsx file; anything else is an :class:`InputFileError` saying what to do.

    ``data`` is the file's bytes when the caller has already read them (to hash the content).
    """
    path = Path(path)
    if path.is_dir():
        raise _fail(path, f"this is a folder, not a spreadsheet; {SAVE_AS}")
    if data is None:
        if not path.is_file():
            raise _fail(path, "file not found")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise _fail(path, f"cannot be read ({exc.strerror})") from exc
    suffix = path.suffix.lower()
    if data.startswith(_OLE2_MAGIC):
        raise _fail(path, f"this is an Excel 97-2003 workbook (.xls); {SAVE_AS}")
    if suffix not in SUPPORTED_SUFFIXES:
        kind = _KNOWN_KINDS.get(suffix, f"a {suffix or 'file without an extension'} file")
        raise _fail(path, f"wardprog cannot read {kind}; {SAVE_AS}")
    is_zip = data.startswith(_ZIP_MAGIC)
    if suffix == ".csv":
        if is_zip:
            what = "an Excel workbook" if _is_xlsx_zip(data) else "a zipped file"
            raise _fail(path, f"this is {what} named .csv; {SAVE_AS}")
        table = _csv_table(path, data)
    else:
        if not is_zip:
            problem = f"not a readable Excel workbook (a text file named {suffix}?); {SAVE_AS}"
            raise _fail(path, problem)
        if not _is_xlsx_zip(data):
            problem = f"not a readable Excel workbook (.ods or .numbers renamed?); {SAVE_AS}"
            raise _fail(path, problem)
        table = _xlsx_table(path, data, sheet_name)
    return _sheet(path, table)


def _sheet(path: Path, table: list[list[str]]) -> Sheet:
    header_at = next((i for i, cells in enumerate(table) if any(cells)), None)
    if header_at is None:
        raise _fail(path, "the file is empty: expected a header row", row=1)
    header = list(table[header_at])
    while header and not header[-1]:
        header.pop()
    width = len(header)
    rows: list[tuple[int, list[str]]] = []
    for i in range(header_at + 1, len(table)):
        cells = table[i]
        if not any(cells):
            continue  # blank rows are not data, but they keep their number
        padded = (list(cells) + [""] * width)[: max(width, len(cells))]
        rows.append((i + 1, padded))
    return Sheet(path=path, header=header, rows=rows, header_row=header_at + 1)


# --- writing -----------------------------------------------------------------------------------


def safe_cell(value: Any) -> Any:
    """A value safe to put in a spreadsheet: text that would run as a formula gets a ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list[Any]:
    return [safe_cell(v) for v in values]


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    """Write a CSV Excel opens correctly (UTF-8 with BOM), atomically, with safe cells."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(safe_row(header))
        writer.writerows(safe_row(r) for r in rows)
    tmp.replace(path)  # a reader never sees a half-written file
    return path


NHS_BLUE = "005EB8"


def headed_sheet(title: str, headings: Sequence[str]) -> tuple[Any, Any]:
    """A new workbook (and its one sheet, ``title``) whose first row is ``headings`` in bold
    white on NHS blue: how every workbook wardprog sends out begins."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = title
    ws.append(list(headings))
    for cell in ws[1]:
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor=NHS_BLUE)
    return wb, ws


def append_text_row(ws: Any, values: Iterable[Any]) -> None:
    """Append to an openpyxl worksheet; strings are stored as text, never as formulas.

    openpyxl writes any string starting with ``=`` as a formula; forcing the cell type keeps the
    staff's words exactly as typed (they read back unchanged) and Excel shows them as text.
    """
    row = list(values)
    ws.append([None if isinstance(v, str) else v for v in row])
    r = ws.max_row
    for column, value in enumerate(row, start=1):
        if isinstance(value, str):
            cell = ws.cell(row=r, column=column)
            cell.value = value
            cell.data_type = "s"
