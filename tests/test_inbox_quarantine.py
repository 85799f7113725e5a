"""Poison files are quarantined, never retried: one attempt, one message, once, per file kind.

Runs the real ``advance-wards`` flow (Prefect test API) on both databases: one ward of the wave
returns a file that fails validation, the other a good one. The bad file lands in ``rejected/``
with its errors file after a single task attempt, the ward manager and the improvement team get
one message, the run completes for the other ward, and advancing again changes nothing.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from flows.common import is_transient, retry_transient
from flows.launch_wave import advance_wards
from tests.utils.factories import make_enrolment, make_programme, make_site, make_ward, make_wave
from wardprog.config import Settings
from wardprog.demo.triage_responses import drop_filled_template
from wardprog.errors import InputFileError, NotFoundError, RowProblem
from wardprog.models import Notification, StaffMember, Stage, WardEnrolment
from wardprog.services import qsir
from wardprog.services.context import StageContext
from wardprog.services.inbox import inbox_folder, quarantine, returned_files
from wardprog.services.triage import triage_inbox

AS_OF = date(2026, 2, 16)

# kind -> (stage the wards have finished, message kind, a poison file's name and bytes)
POISON = {
    "triage": (
        Stage.engagement,
        "triage_rejected",
        "triage-return.csv",
        b"Issue,Category\nBroken hoist,replace\n",
    ),
    "triage-xls": (
        Stage.engagement,
        "triage_rejected",
        "triage-return.xls",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504,
    ),
    "qsir": (
        Stage.triage,
        "file_rejected",
        "nominations.csv",
        b"staff_number,course,approved_by\n99999999,practitioner,Sister Jones\n",
    ),
}


def _task_runs(name: str, expected: int) -> list[int]:
    """Run counts of the task runs named ``name``, once the API has recorded ``expected`` of them.

    The local API records task runs in batches (``prefect_env.SERVER_TUNING``: at 200 events or
    every 5 s), so a run finished a moment ago may not be there yet: wait for the flush.
    """
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(
                task_run_filter=TaskRunFilter(name=TaskRunFilterName(any_=[name])), limit=50
            )
            done = [r for r in runs if r.state is not None and r.state.is_final()]
            if len(done) >= expected or time.monotonic() > deadline:
                return [r.run_count for r in done]
            time.sleep(0.5)


def _notes(session: Session, kind: str) -> list[Notification]:
    session.expire_all()
    return list(session.exec(select(Notification).where(Notification.kind == kind)).all())


def _folder(settings: Settings, ward_code: str, kind: str) -> Path:
    return (
        triage_inbox(settings, ward_code)
        if kind.startswith("triage")
        else (qsir.nomination_inbox(settings, ward_code))
    )


@pytest.mark.parametrize("kind", sorted(POISON))
def test_poison_file_costs_one_attempt_and_one_message_once(
    session: Session, settings: Settings, prefect_harness: None, kind: str
) -> None:
    finished, message_kind, filename, content = POISON[kind]
    programme = make_programme(session)
    wave = make_wave(session, programme, quarter_start=date(2026, 1, 5))
    site = make_site(session)
    bad = make_ward(session, site)
    good = make_ward(session, site)
    enrolments = {w.code: make_enrolment(session, w, wave, stage=finished) for w in (bad, good)}
    session.add(StaffMember(staff_number="N100", name="Ada Nurse", ward_id=good.id))
    session.commit()

    folder = _folder(settings, bad.code, kind)
    folder.mkdir(parents=True)
    (folder / filename).write_bytes(content)
    if kind.startswith("triage"):
        ctx = StageContext(session, settings, AS_OF, good, site, wave, enrolments[good.code])
        drop_filled_template(ctx)
    else:
        qsir.write_nomination_return(
            settings, good.code, [("N100", "practitioner", "Sister Jones")], "n.csv"
        )

    for _ in range(2):  # the second advance must not retry, re-read or re-send anything
        advance_wards(as_of=AS_OF, programme=programme.name)

    stage = "triage" if kind.startswith("triage") else "qsir"
    assert _task_runs(f"{stage} · {bad.code}", 2) == [1, 1]  # one attempt per advance, no retries
    rejected = folder / "rejected"
    assert sorted(p.name for p in rejected.iterdir()) == [filename, f"{filename}.errors.txt"]
    errors = (rejected / f"{filename}.errors.txt").read_text()
    assert filename in errors
    if kind == "triage-xls":
        assert "save it as .xlsx or .csv" in errors
    elif kind == "triage":
        assert "row 2, column 'category'" in errors
    else:
        assert "row 2, column 'staff_number'" in errors and "99999999" in errors
    assert not any(p.is_file() for p in folder.iterdir())
    (note,) = _notes(session, message_kind)
    assert note.recipients == [bad.manager_email]
    assert "improvement-team" in note.tags and bad.code in note.tags
    assert filename in note.body_text

    session.expire_all()
    assert session.get_one(WardEnrolment, enrolments[bad.code].id).stage == finished  # waits
    assert session.get_one(WardEnrolment, enrolments[good.code].id).stage != finished  # moved on

    # The same bad file sent again is set aside again but answered only once.
    (folder / filename).write_bytes(content)
    advance_wards(as_of=AS_OF, programme=programme.name)
    assert len(_notes(session, message_kind)) == 1
    assert len(list(rejected.glob("*.errors.txt"))) == 2


def test_quarantine_api_for_a_new_file_kind(session: Session, settings: Settings) -> None:
    """How a new kind of return (e.g. a monthly tracker) uses the inbox."""
    site = make_site(session)
    ward = make_ward(session, site)
    folder = inbox_folder(settings, ward.code, "tracker")
    folder.mkdir(parents=True)
    (folder / "tracker.csv").write_text("id,status\n17,maybe\n")
    (folder / "~$tracker.xlsx").write_text("lock file")
    (folder / ".sync").write_text("hidden")
    (returned,) = returned_files(folder)
    err = InputFileError(returned.path, [RowProblem(2, "status", "'maybe' is not open or done")])
    for _ in range(2):
        quarantine(session, returned, err, what="monthly tracker", ward=ward, site=site)
    session.commit()
    (note,) = _notes(session, "file_rejected")
    assert note.subject == f"Monthly tracker for {ward.name} needs correcting"
    assert "row 2, column 'status': 'maybe' is not open or done" in note.body_text
    errors = (folder / "rejected" / "tracker.csv.errors.txt").read_text()
    assert "tracker.csv, row 2, column 'status'" in errors
    assert returned_files(folder) == []


def test_only_transient_failures_are_retried() -> None:
    assert not is_transient(InputFileError("x.csv", []))
    assert not is_transient(NotFoundError("no ward"))
    assert not is_transient(ValueError("a bug"))
    assert is_transient(OperationalError("select 1", {}, Exception("database is locked")))
    assert is_transient(ConnectionResetError())

    class Failed:
        def __init__(self, exc: BaseException) -> None:
            self.data = exc

    assert retry_transient(None, None, Failed(TimeoutError())) is True
    assert retry_transient(None, None, Failed(InputFileError("x", []))) is False


def test_prefect_retries_a_lock_but_not_bad_input(prefect_harness: None) -> None:
    from prefect import flow, task

    attempts: list[str] = []

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_transient)
    def stage(error: str) -> None:
        attempts.append(error)
        if error == "input":
            raise InputFileError("n.csv", [RowProblem(2, "staff_number", "not in the register")])
        raise OperationalError("update ward_enrolment", {}, Exception("database is locked"))

    @flow
    def run(error: str) -> None:
        stage(error)

    for error in ("input", "lock"):
        with pytest.raises((InputFileError, OperationalError)):
            run(error)
    assert attempts == ["input", "lock", "lock", "lock"]
