"""The ward manager's monthly tracker: sent pre-filled, returned, turned into commands.

    first working day of the month -> every enrolled ward with open items gets its tracker
        (xlsx and csv: id, issue, category, owner, due date, latest IHI score; columns for
        status open/done, what was done, date done, new score and why)
    returned tracker in <inbox>/<WARD>/tracker/ -> validated strictly (file, row, column)
        -> CloseItem / ScoreProject commands through the same bus as the CLI (source: file+row)
        -> reply to the manager listing what was recorded, or what was wrong (rejected whole)

Replies and trackers are outbox messages under idempotency keys (the month; the file's
digest), so a re-run never resends. Files follow the one inbox convention
(``services/inbox.py``): moved to ``processed/`` once the transaction commits, or quarantined
in ``rejected/`` with an ``.errors.txt`` (also on commit, with the reply naming the rows).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl.worksheet.datavalidation import DataValidation
from sqlmodel import Session, select

from wardprog import commands as c
from wardprog.config import Settings
from wardprog.errors import InputFileError, RowProblem, WardprogError
from wardprog.models import Site, TriageCategory, TriageItem, Ward, WardEnrolment
from wardprog.notify.outbox import Attachment, enqueue, enqueued
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG
from wardprog.rules.triage import IHI_SCORES
from wardprog.rules.working_days import first_working_day_of_month
from wardprog.services.handlers import ActionResult, run
from wardprog.services.inbox import file_on_commit, inbox_folder, quarantine, returned_files
from wardprog.services.triage.template import CSV_CONTENT_TYPE, XLSX_CONTENT_TYPE
from wardprog.services.views import item_rows
from wardprog.sources.tabular import headed_sheet, read_table, safe_row

SHEET = "Tracker"
# (heading, item_rows field or None for the manager's columns)
COLUMNS: tuple[tuple[str, str | None], ...] = (
    ("Item id", "id"),
    ("Issue", "issue"),
    ("Category", "category"),
    ("Owner", "owner"),
    ("Due date", "due_date"),
    ("Latest IHI score", "latest_score"),
    ("Status", "status"),
    ("What was done", None),
    ("Date done", None),
    ("New score", None),
    ("Why", None),
    # For a new score of 3.0 or more when the project's measure is not yet 20% of the way to
    # its aim: why not. Optional, so trackers sent before it existed still read.
    ("Evidence note", None),
)
HEADINGS = tuple(h for h, _ in COLUMNS)
REQUIRED = ("Item id", "Status", "What was done", "New score", "Why")
STATUSES = ("open", "done")


def tracker_inbox(settings: Settings, ward_code: str) -> Path:
    return inbox_folder(settings, ward_code, "tracker")


def tracker_filename(ward_code: str, month: date, suffix: str) -> str:
    return f"tracker-{ward_code}-{month:%Y-%m}{suffix}"


# --- writing -----------------------------------------------------------------------------------


def _cells(item: dict[str, Any]) -> list[Any]:
    return ["" if f is None or item.get(f) is None else item[f] for _, f in COLUMNS]


def build_xlsx(ward_code: str, items: list[dict[str, Any]]) -> bytes:
    wb, ws = headed_sheet(SHEET, HEADINGS)
    for item in items:
        ws.append(_cells(item))
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # staff text is text, never a formula
    for letter, width in zip(
        "ABCDEFGHIJKL", (8, 60, 10, 24, 12, 10, 10, 50, 12, 10, 40, 40), strict=True
    ):
        ws.column_dimensions[letter].width = width
    ws.freeze_panes = "C2"
    status = DataValidation(type="list", formula1='"open,done"', allow_blank=False)
    score = DataValidation(
        type="list", formula1='"' + ",".join(f"{s:.1f}" for s in IHI_SCORES) + '"'
    )
    ws.add_data_validation(status)
    ws.add_data_validation(score)
    last = max(len(items) + 1, 2)
    status.add(f"G2:G{last}")
    score.add(f"J2:J{last}")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def build_csv(items: list[dict[str, Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADINGS)
    writer.writerows(safe_row(_cells(i)) for i in items)  # staff text never runs as a formula
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _parts(session: Session, ward: Ward) -> Site:
    site = session.get(Site, ward.site_id)
    assert site is not None
    return site


def send_monthly_trackers(session: Session, as_of: date) -> list[str]:
    """Every enrolled ward with open items gets this month's tracker, once, from the month's
    first working day; returns the ward codes sent to by this call."""
    if as_of < first_working_day_of_month(as_of.year, as_of.month):
        return []
    month = as_of.replace(day=1)
    sent = []
    for ward in enrolled_wards(session):
        items = item_rows(session, ward_code=ward.code, open_only=True)
        if not items:
            continue
        key = f"ward_tracker:{ward.code}:{month:%Y-%m}"
        if enqueued(session, key):
            continue
        enqueue(
            session,
            key=key,
            kind="ward_tracker",
            tags=[ward.code, _parts(session, ward).code],
            context={
                "ward_name": ward.name,
                "manager_name": ward.manager_name or "Ward manager",
                "month": f"{month:%B %Y}",
                "items": items,
            },
            ward_code=ward.code,
            recipients=[ward.manager_email] if ward.manager_email else [],
            attachments=[
                Attachment(
                    tracker_filename(ward.code, month, ".xlsx"),
                    build_xlsx(ward.code, items),
                    XLSX_CONTENT_TYPE,
                ),
                Attachment(
                    tracker_filename(ward.code, month, ".csv"), build_csv(items), CSV_CONTENT_TYPE
                ),
            ],
        )
        sent.append(ward.code)
    return sent


# --- reading a return --------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackerRow:
    row: int
    item_id: int
    status: str
    done: str
    done_on: date | None
    score: float | None
    why: str
    evidence_note: str = ""


def _raw_rows(path: Path, data: bytes) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and numbered rows as the spreadsheet shows them (``sources/tabular.py``)."""
    sheet = read_table(path, data, sheet_name=SHEET)
    return sheet.header, [(n, [" ".join(v.split()) for v in cells]) for n, cells in sheet.rows]


def read_tracker(path: Path, data: bytes, ward_item_ids: dict[int, str]) -> list[TrackerRow]:
    """Every row checked; any problem rejects the whole file (row and column named).

    ``ward_item_ids`` maps this ward's item ids to their category.
    """
    header, body = _raw_rows(path, data)
    index = {h.strip().casefold(): i for i, h in enumerate(header) if h.strip()}
    missing = [h for h in REQUIRED if h.casefold() not in index]
    if missing:
        raise InputFileError(
            path.name,
            [RowProblem(1, h, "column missing: return the tracker as sent") for h in missing],
        )

    def cell(values: list[str], heading: str) -> str:
        i = index.get(heading.casefold())
        return values[i].strip() if i is not None and i < len(values) else ""

    problems: list[RowProblem] = []
    rows: list[TrackerRow] = []
    seen: dict[int, int] = {}
    for n, values in body:
        before = len(problems)
        raw_id = cell(values, "Item id")
        item_id = int(raw_id) if raw_id.isdigit() else None
        if item_id is None:
            problems.append(RowProblem(n, "Item id", f"{raw_id!r} is not an item id"))
        elif item_id not in ward_item_ids:
            problems.append(RowProblem(n, "Item id", f"item {item_id} is not one of this ward's"))
        elif item_id in seen:
            problems.append(
                RowProblem(n, "Item id", f"item {item_id} is also on row {seen[item_id]}")
            )
        else:
            seen[item_id] = n
        status = cell(values, "Status").casefold()
        if status not in STATUSES:
            problems.append(RowProblem(n, "Status", f"{status!r} is not open or done"))
        done = cell(values, "What was done")
        if status == "done" and not done:
            problems.append(RowProblem(n, "What was done", "a done item needs what was done"))
        raw_on = cell(values, "Date done")
        done_on = None
        if raw_on:
            try:
                done_on = date.fromisoformat(raw_on[:10])
            except ValueError:
                problems.append(
                    RowProblem(n, "Date done", f"{raw_on!r} is not a date (YYYY-MM-DD)")
                )
        raw_score, why = cell(values, "New score"), cell(values, "Why")
        score = None
        if raw_score:
            try:
                score = float(raw_score)
            except ValueError:
                score = -1.0
            if score not in IHI_SCORES:
                problems.append(
                    RowProblem(n, "New score", f"{raw_score!r} is not 0.5 to 5.0 in steps of 0.5")
                )
            elif item_id is not None and ward_item_ids.get(item_id) != TriageCategory.improve:
                problems.append(
                    RowProblem(n, "New score", "only improvement projects carry an IHI score")
                )
            if not why:
                problems.append(RowProblem(n, "Why", "a new score needs why (the evidence)"))
        if len(problems) == before and item_id is not None:
            note = cell(values, "Evidence note")
            rows.append(TrackerRow(n, item_id, status, done, done_on, score, why, note))
    if problems:
        raise InputFileError(path.name, problems)
    return rows


def tracker_commands(
    rows: list[TrackerRow], ward: Ward, filename: str, as_of: date
) -> list[tuple[int, c.Command]]:
    """Each row as the commands it means: a score first, then the close."""
    actor = {"name": ward.manager_name or f"{ward.code} ward manager", "email": ward.manager_email}
    out: list[tuple[int, c.Command]] = []
    for r in rows:
        source = {"kind": "file", "file": filename, "row": r.row}
        on = r.done_on or as_of
        if r.score is not None:
            out.append((r.row, c.build(c.ScoreProject, actor=actor, source=source, on=on,
                                       item_id=r.item_id, score=r.score, why=r.why,
                                       evidence_note=r.evidence_note)))  # fmt: skip
        if r.status == "done":
            out.append((r.row, c.build(c.CloseItem, actor=actor, source=source, on=on,
                                       item_id=r.item_id, outcome=r.done)))  # fmt: skip
    return out


# --- the inbox ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnOutcome:
    filename: str
    recorded: list[ActionResult]
    error: InputFileError | None = None


def looks_like_tracker(filename: str, data: bytes) -> bool:
    """A returned file is a tracker (not a triage template) when it has the tracker's id column."""
    try:
        headings, _ = _raw_rows(Path(filename), data)
    except (InputFileError, ValueError, OSError):
        return False
    return any(h.strip().lower() == "item id" for h in headings)


def pending_returns(settings: Settings, ward_code: str) -> list[Path]:
    """Every file waiting in the ward's tracker inbox (any type: an .xls is answered too)."""
    return [f.path for f in returned_files(tracker_inbox(settings, ward_code))]


def _reply(session: Session, ward: Ward, kind: str, digest: str, context: dict[str, Any]) -> None:
    enqueue(
        session,
        key=f"{kind}:{ward.code}:{digest[:16]}",
        kind=kind,
        tags=[ward.code, _parts(session, ward).code, IMPROVEMENT_TEAM_TAG],
        context={
            "ward_name": ward.name,
            "manager_name": ward.manager_name or "Ward manager",
            **context,
        },
        ward_code=ward.code,
        recipients=[ward.manager_email] if ward.manager_email else [],
    )


def collect_returns(
    session: Session, settings: Settings, ward: Ward, as_of: date
) -> list[ReturnOutcome]:
    """Record every returned tracker in the ward's inbox, in the caller's transaction.

    Each file's commands run in a savepoint: a row the bus refuses (an item closed since the
    tracker was sent and so on) rolls back that whole file, which is rejected with the row named.
    """
    outcomes = []
    for returned in returned_files(tracker_inbox(settings, ward.code)):
        path, data, digest = returned.path, returned.data, returned.sha256
        if enqueued(session, f"tracker_recorded:{ward.code}:{digest[:16]}"):
            # Recorded already (the move after commit did not happen): just file it away.
            file_on_commit(session, returned)
            continue
        categories = {
            i.id: i.category.value
            for i in session.exec(select(TriageItem).where(TriageItem.ward_id == ward.id)).all()
            if i.id is not None
        }
        try:
            rows = read_tracker(path, data, categories)
            recorded: list[tuple[int, ActionResult]] = []
            with session.begin_nested():
                for row, command in tracker_commands(rows, ward, path.name, as_of):
                    try:
                        recorded.append((row, run(session, settings, command)))
                    except WardprogError as exc:
                        raise InputFileError(path.name, [RowProblem(row, None, str(exc))]) from exc
        except (InputFileError, c.CommandError) as exc:
            err = (
                exc
                if isinstance(exc, InputFileError)
                else InputFileError(path.name, [RowProblem(None, None, str(exc))])
            )
            quarantine(session, returned, err, what="monthly tracker", ward=ward,
                       site=_parts(session, ward), message_kind="tracker_rejected",
                       key=f"tracker_rejected:{ward.code}:{digest[:16]}")  # fmt: skip
            outcomes.append(ReturnOutcome(path.name, [], err))
            continue
        _reply(session, ward, "tracker_recorded", digest, {
            "filename": path.name,
            "recorded": [{"row": row, "summary": r.summary} for row, r in recorded],
        })  # fmt: skip
        file_on_commit(session, returned)
        outcomes.append(ReturnOutcome(path.name, [r for _, r in recorded]))
    return outcomes


def enrolled_wards(session: Session) -> list[Ward]:
    return list(
        session.exec(select(Ward).where(Ward.id == WardEnrolment.ward_id).order_by(Ward.code)).all()
    )
