"""The monthly board report: HTML and PDF, sent to the improvement team, published as an artifact.

Runs early each month for the month just ended (``report_month``). Self-contained: the demo
replay calls it at each month end, the ``monthly-board-report`` deployment on the real clock.
Idempotent: a re-run rewrites the same files and never sends the report twice.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from dateutil.relativedelta import relativedelta
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from sqlmodel import Session

from flows.common import TRANSIENT, artifact_key, dated_run_name, on_its_day, resolve_as_of, runtime
from wardprog.db import session_scope
from wardprog.errors import WardprogError
from wardprog.notify.outbox import Attachment, enqueue
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG
from wardprog.reports.board import (
    board_markdown,
    board_notification_context,
    board_paths,
    print_pdf,
    write_board_html,
)


@task(**TRANSIENT)
def write_board_report_task(as_of: date) -> dict[str, Any]:
    settings, engine = runtime()
    with Session(engine) as session:
        data, html_path = write_board_html(session, settings, as_of)
    return {
        "month": data.month,
        "html": str(html_path),
        "markdown": board_markdown(data, html_path, None),
        "context": board_notification_context(data, html_path, html_path.name),
    }


@task(retries=1, retry_delay_seconds=5)
def print_board_pdf_task(as_of: date, html: str) -> str | None:
    settings, _ = runtime()
    _, pdf_path = board_paths(settings, as_of)
    try:
        return str(print_pdf(Path(html), pdf_path))
    except WardprogError as exc:
        # The HTML report still goes out; the log says why there is no PDF.
        get_run_logger().warning("board report PDF not written: %s", exc)
        return None


@task
def send_board_report_task(month: str, context: dict[str, Any], html: str, pdf: str | None) -> int:
    _, engine = runtime()
    path = Path(pdf or html)
    attachment = Attachment(path.name, path.read_bytes(), "application/pdf" if pdf else "text/html")
    with session_scope(engine) as session:
        note = enqueue(
            session,
            key=f"board_report:{month}",
            kind="board_report",
            tags=[IMPROVEMENT_TEAM_TAG],
            context=context | {"attachment": path.name},
            attachments=[attachment],
        )
        return int(note.id or 0)


@flow(name="board-report", flow_run_name=dated_run_name("board report {as_of}"))
@on_its_day
def board_report(as_of: date | None = None) -> dict[str, Any]:
    """The board report for the last complete month before ``as_of`` (default today)."""
    day = resolve_as_of(as_of)
    written = write_board_report_task(day)
    pdf = print_board_pdf_task(day, written["html"])
    note_id = send_board_report_task(written["month"], written["context"], written["html"], pdf)
    markdown = written["markdown"]
    if pdf:
        markdown += f"- PDF: [{Path(pdf).name}]({Path(pdf).resolve().as_uri()})\n"
    create_markdown_artifact(
        key=artifact_key("board-report", written["month"]),
        markdown=markdown,
        description=f"Board report {written['month']}",
    )
    return {"month": written["month"], "html": written["html"], "pdf": pdf, "notification": note_id}


def month_end_runs(start: date, end: date) -> list[date]:
    """The ``as_of`` of each month's board report from ``start`` to ``end`` (the 1st after each
    month, the last one for ``end``'s own month)."""
    first = start.replace(day=1)
    days = []
    month = 1
    while True:
        day = (first + relativedelta(months=month)).replace(day=1)
        days.append(day)
        if day > end:
            return days
        month += 1
