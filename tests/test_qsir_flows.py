"""QSIR flows through a real (throw-away) Prefect API, including the paused nomination form."""

from __future__ import annotations

import contextvars
import threading
import time
from datetime import date, timedelta

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.client.schemas.sorting import FlowRunSort
from prefect.flow_runs import resume_flow_run
from sqlmodel import Session, select

from flows.qsir import nominate_ward, qsir_reminders, record_completions
from tests.utils.factories import make_context, make_site, make_ward, make_wave
from wardprog.demo.staff import drop_nomination_return, write_staff_extract
from wardprog.models import (
    NominationStatus,
    QsirAttendance,
    QsirCohort,
    QsirNomination,
    StaffMember,
)
from wardprog.services import qsir
from wardprog.services.staff_register import import_staff

AS_OF = date(2026, 2, 16)


@pytest.fixture
def ward(session, settings, tmp_path):
    site = make_site(session, code="NTH")
    ward = make_ward(session, site, code="NTH-W01")
    ctx = make_context(session, settings, AS_OF, site=site, ward=ward, wave=make_wave(session))
    import_staff(session, write_staff_extract([(ward.code, ward.manager_name)], tmp_path / "s.csv"))
    session.commit()
    return ctx


def test_nominate_remind_and_complete_through_flows(session, ward, prefect_harness):
    waiting = nominate_ward(ward.ward.code, AS_OF)
    assert not waiting["done"] and waiting["nominations"] == []

    drop_nomination_return(ward)
    result = nominate_ward(ward.ward.code, AS_OF)
    assert result["done"] and len(result["nominations"]) == 2
    assert nominate_ward(ward.ward.code, AS_OF)["nominations"] == result["nominations"]

    cohort = session.exec(select(QsirCohort).where(QsirCohort.code == "QSIR-P-2026-Q2")).one()
    days = [date.fromisoformat(d) for d in cohort.session_dates]
    assert qsir_reminders(as_of=days[0] - timedelta(days=2)) == 2
    assert qsir_reminders(as_of=days[0] - timedelta(days=1)) == 0

    ids = [n["nomination_id"] for n in result["nominations"]]
    for day in days:
        for nid in ids:
            session.add(QsirAttendance(nomination_id=nid, session_date=day, attended=True))
    for n in session.exec(select(QsirNomination)).all():
        n.project_presented, n.project_presented_on = True, days[-1]
        n.status = NominationStatus.attending
        session.add(n)
    session.commit()
    outcome = record_completions(as_of=days[-1])
    assert outcome["completed"] == 2
    assert outcome["kpis"]["trained"] == 2


def _resume_when_paused(inputs: list[dict], found: list, ctx: contextvars.Context) -> None:
    """Play the ward manager: each time the flow pauses, submit the next form."""

    def work() -> None:
        deadline = time.monotonic() + 60
        pending = list(inputs)
        with get_client(sync_client=True) as client:
            while pending and time.monotonic() < deadline:
                runs = client.read_flow_runs(
                    flow_run_filter=FlowRunFilter(
                        state=FlowRunFilterState(
                            type=FlowRunFilterStateType(any_=[StateType.PAUSED])
                        )
                    ),
                    sort=FlowRunSort.ID_DESC,
                    limit=5,
                )
                if runs:
                    found.append(runs[0].id)
                    resume_flow_run(runs[0].id, run_input=pending.pop(0))
                time.sleep(0.3)

    ctx.run(work)


def test_interactive_nomination_pauses_for_the_form(session, ward, prefect_harness):
    staff = session.exec(
        select(StaffMember)
        .where(StaffMember.ward_id == ward.ward.id, StaffMember.role == "Staff Nurse")
        .order_by(StaffMember.staff_number)
    ).all()
    chosen = [staff[0].staff_number, staff[1].staff_number]
    found: list = []
    resumer = threading.Thread(
        target=_resume_when_paused,
        args=(
            [
                # First the manager types a number from the wrong ward: refused, form comes back.
                {"staff_numbers": ["NOPE1"], "course": "practitioner", "approved_by": "Sister A"},
                {
                    "staff_numbers": chosen,
                    "course": "practitioner",
                    "approved_by": "Sister Adeyemi",
                },
            ],
            found,
            contextvars.copy_context(),
        ),
    )
    resumer.start()
    result = nominate_ward(
        ward.ward.code, AS_OF, interactive=True, poll_seconds=1, timeout_seconds=60
    )
    resumer.join(timeout=70)
    assert len(found) == 2, "the flow should pause, refuse the first form and pause again"
    assert result["done"]
    assert sorted(n["staff_number"] for n in result["nominations"]) == sorted(chosen)
    with Session(session.get_bind()) as fresh:
        rows = fresh.exec(select(QsirNomination)).all()
        assert {r.approved_by for r in rows} == {"Sister Adeyemi"}
        assert all("prefect-form-" in r.source for r in rows)
    # The refused submission was set aside in rejected/; the accepted one is filed as the record.
    inbox = qsir.nomination_inbox(ward.settings, ward.ward.code)
    assert len(list((inbox / "processed").glob("prefect-form-*.csv"))) == 1
    assert len(list((inbox / "rejected").glob("prefect-form-*.csv"))) == 1
