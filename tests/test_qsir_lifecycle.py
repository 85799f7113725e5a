"""After booking: attendance, completion, deferral, reminders, KPIs and the demo simulation."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from icalendar import Calendar
from rich.console import Console
from sqlmodel import col, func, select

from tests.utils.factories import make_context, make_site, make_ward, make_wave
from wardprog import clock
from wardprog.demo.staff import drop_nomination_return, simulate_attendance, write_staff_extract
from wardprog.models import (
    NominationStatus,
    Notification,
    QsirAttendance,
    QsirCohort,
    QsirNomination,
    StaffMember,
)
from wardprog.rules.cohorts import CompletionRule
from wardprog.services import qsir
from wardprog.services.qsir_kpis import kpi_table, training_kpis
from wardprog.services.staff_register import import_staff

AS_OF = date(2026, 2, 16)


@pytest.fixture(autouse=True)
def _on_the_programme_clock() -> Iterator[None]:
    """What these tests write is dated on AS_OF, as the day's run would date it."""
    with clock.simulated(clock.day_start(AS_OF)):
        yield


@pytest.fixture
def booked(session, settings, tmp_path):
    """Three wards on two sites, each with two nominees booked on QSIR-P-2026-Q2."""
    wave = make_wave(session, quarter_start=date(2026, 1, 5))
    sites = {"A": make_site(session, code="A"), "B": make_site(session, code="B")}
    contexts = []
    for code in ("A-W01", "A-W02", "B-W01"):
        site = sites[code[0]]
        ward = make_ward(session, site, code=code)
        contexts.append(make_context(session, settings, AS_OF, site=site, ward=ward, wave=wave))
    import_staff(
        session,
        write_staff_extract(
            [(c.ward.code, c.ward.manager_name) for c in contexts], tmp_path / "s.csv"
        ),
    )
    for ctx in contexts:
        drop_nomination_return(ctx)
        assert qsir.run_qsir_stage(ctx).done
    session.commit()
    nominations = session.exec(select(QsirNomination).order_by(col(QsirNomination.id))).all()
    cohort = session.get(QsirCohort, nominations[0].cohort_id)
    assert cohort.code == "QSIR-P-2026-Q2"
    return nominations, cohort


def days(cohort: QsirCohort) -> list[date]:
    return [date.fromisoformat(d) for d in cohort.session_dates]


def test_attendance_and_project_complete_the_course(session, settings, booked):
    nominations, cohort = booked
    good, patchy, absent = nominations[0], nominations[1], nominations[2]
    d = days(cohort)
    for i, day in enumerate(d):
        qsir.record_attendance(session, good.id, day, attended=i != 2)  # misses one day: still ok
        qsir.record_attendance(session, patchy.id, day, attended=i < 3)  # misses two
        qsir.record_attendance(session, absent.id, day, attended=False)
    # Correcting a register entry updates it rather than adding a row.
    qsir.record_attendance(session, absent.id, d[0], attended=True)
    assert (
        session.exec(
            select(func.count())
            .select_from(QsirAttendance)
            .where(QsirAttendance.nomination_id == absent.id)
        ).one()
        == 5
    )
    assert good.status == NominationStatus.attending
    qsir.mark_project_presented(session, good.id, d[-1])

    # Mid-course nothing is decided (except those who can no longer make 4 of 5).
    mid = qsir.evaluate_completion(session, d[2])
    assert mid.completed == [] and absent.id in mid.deferred
    assert "attended 1 of 3 days held so far" in absent.reason  # judged on the days so far
    assert absent.status == NominationStatus.deferred and absent.cohort_id == cohort.id

    report = qsir.evaluate_completion(session, d[-1])
    session.commit()
    assert report.completed == [good.id]
    assert report.deferred == [patchy.id]
    assert good.status == NominationStatus.completed and good.completed_on == d[-1]
    assert "attended 3 of 5 days" in patchy.reason and "requeue" in patchy.reason
    # Idempotent: evaluating again changes nothing.
    assert qsir.evaluate_completion(session, d[-1] + timedelta(days=30)).completed == []

    # The deferred nominee can be requeued; they are booked onto the next cohort.
    qsir.requeue_nomination(session, patchy.id)
    result = qsir.allocate_pending(session, settings, d[-1])
    assert [n.id for n in result.booked] == [patchy.id]
    assert session.get(QsirCohort, patchy.cohort_id).start_date > d[-1]


def test_awaiting_project_and_missing_register(session, booked):
    nominations, cohort = booked
    first, second = nominations[0], nominations[1]
    d = days(cohort)
    for day in d:
        qsir.record_attendance(session, first.id, day, attended=True)
    for day in d[:4]:  # the last register for the second nominee has not been entered
        qsir.record_attendance(session, second.id, day, attended=True)
    report = qsir.evaluate_completion(session, d[-1])
    assert report.awaiting_project == [first.id]
    assert second.id in report.awaiting_register
    # A stricter rule can be configured: all five days, no project needed.
    strict = qsir.evaluate_completion(session, d[-1], CompletionRule(5, require_project=False))
    assert strict.completed == [first.id]


def test_attendance_errors_are_actionable(session, booked):
    nominations, cohort = booked
    with pytest.raises(qsir.AttendanceError, match="not a teaching day"):
        qsir.record_attendance(session, nominations[0].id, date(2026, 1, 1), True)
    qsir.withdraw_nomination(session, nominations[1].id, "moved to another trust")
    with pytest.raises(qsir.AttendanceError, match="withdrawn"):
        qsir.record_attendance(session, nominations[1].id, days(cohort)[0], True)
    with pytest.raises(qsir.NominationStateError, match="cannot become deferred"):
        qsir.defer_nomination(session, nominations[1].id, "sick leave")
    with pytest.raises(qsir.NominationStateError, match="reason is required"):
        qsir.defer_nomination(session, nominations[2].id, " ")
    with pytest.raises(qsir.NotFoundError):
        qsir.withdraw_nomination(session, 999_999, "x")


def test_reminders_a_few_days_before_each_session_once(session, booked):
    nominations, cohort = booked
    d = days(cohort)
    assert qsir.send_session_reminders(session, d[0] - timedelta(days=10)) == 0
    sent = qsir.send_session_reminders(session, d[0] - timedelta(days=3))
    assert sent == len(nominations)
    assert qsir.send_session_reminders(session, d[0] - timedelta(days=2)) == 0  # same session
    qsir.withdraw_nomination(session, nominations[0].id, "left")
    assert qsir.send_session_reminders(session, d[1] - timedelta(days=1)) == len(nominations) - 1
    session.commit()
    note = session.exec(
        select(Notification).where(Notification.kind == "qsir_session_reminder")
    ).first()
    assert "day 1 of 5" in note.subject
    assert d[0].strftime("%-d %B %Y") in note.body_text
    assert note.body_html.startswith("<!doctype html>")


def test_kpis_trained_vs_target_by_site_and_wave_with_forecast(session, booked):
    nominations, cohort = booked
    d = days(cohort)
    before = training_kpis(session, AS_OF, target=100)
    assert before["trained"] == 0 and before["in_training"] == 6
    assert before["forecast_target_date"] is not None
    assert date.fromisoformat(before["forecast_target_date"]) > AS_OF

    for n in nominations[:3]:
        for day in d:
            qsir.record_attendance(session, n.id, day, attended=True)
        qsir.mark_project_presented(session, n.id, d[-1])
    qsir.evaluate_completion(session, d[-1])
    session.commit()
    kpis = training_kpis(session, d[-1], target=4)
    assert kpis["trained"] == 3 and kpis["remaining"] == 1 and kpis["percent_of_target"] == 75.0
    assert {r["site"]: r["trained"] for r in kpis["by_site"]} == {"A": 3, "B": 0}
    assert [(r["wave"], r["trained"], r["nominated"]) for r in kpis["by_wave"]] == [(1, 3, 6)]
    # The other three finish on the same day but have not presented yet: the forecast looks ahead.
    assert kpis["forecast_target_date"] > d[-1].isoformat()
    done = training_kpis(session, d[-1], target=3)
    assert done["forecast_target_date"] == d[-1].isoformat()
    assert done["forecast_basis"] == "target reached"
    # "Trained to date" respects the date: nobody was trained before the course ended.
    assert training_kpis(session, d[0], target=3)["trained"] == 0

    console = Console(record=True, width=120)
    console.print(kpi_table(kpis))
    text = console.export_text()
    assert "3 of 4" in text and "By site" in text and "By wave" in text
    # Every nominee in exactly one bucket: the buckets add up, overall and per site and wave.
    assert sum(kpis["buckets"].values()) == kpis["nominated"] == 6
    for row in kpis["by_site"] + kpis["by_wave"]:
        assert sum(row[b] for b in kpis["buckets"]) == row["nominated"]
    assert "Total nominated" in text and "Withdrawn" in text


def test_demo_simulation_produces_trained_staff(session, booked):
    nominations, cohort = booked
    end = days(cohort)[-1] + timedelta(days=60)
    sim = simulate_attendance(session, end)
    session.commit()
    assert sim.sessions_recorded == 5 * len(nominations)
    assert sim.completion is not None
    completed = session.exec(
        select(QsirNomination).where(QsirNomination.status == NominationStatus.completed)
    ).all()
    assert len(completed) >= 4  # ~93% attendance: nearly everyone completes
    again = simulate_attendance(session, end)
    assert again.sessions_recorded == 0 and again.projects_presented == 0
    assert training_kpis(session, end, target=100)["trained"] == len(completed)


def test_withdrawal_sends_a_calendar_cancellation_once(session, booked):
    nominations, _cohort = booked
    staff = session.get(StaffMember, nominations[0].staff_id)
    qsir.withdraw_nomination(session, nominations[0].id, "moved to another trust")
    session.commit()

    def invite(kind: str) -> tuple[Notification, Calendar]:
        rows = session.exec(
            select(Notification).where(
                Notification.kind == kind,
                col(Notification.idempotency_key).contains(f":{staff.staff_number}:"),
            )
        ).all()
        assert len(rows) == 1, kind
        raw = base64.b64decode(rows[0].attachments[0]["content_b64"])
        return rows[0], Calendar.from_ical(raw)

    note, cancel = invite("qsir_cancelled")
    _, booking = invite("qsir_booking")
    assert "moved to another trust" in note.body_text
    assert cancel["method"] == "CANCEL"
    cancelled = cancel.walk("VEVENT")
    # The same five teaching days, by UID, with a higher SEQUENCE: clients remove them.
    assert {str(e["uid"]) for e in cancelled} == {str(e["uid"]) for e in booking.walk("VEVENT")}
    assert len(cancelled) == 5 and {int(e.decoded("sequence")) for e in cancelled} == {1}

    # Deferring someone who holds no seat any more sends nothing new.
    with pytest.raises(qsir.NominationStateError):
        qsir.defer_nomination(session, nominations[0].id, "again")
    session.rollback()
    count = session.exec(select(func.count()).where(Notification.kind == "qsir_cancelled")).one()
    assert count == 1
