"""Engagement stage, invites, reschedule and cancel on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import io
from datetime import UTC, date, datetime, time, timedelta

import pytest
from icalendar import Calendar
from openpyxl import load_workbook
from sqlalchemy import Engine
from sqlmodel import Session, col, func, select

from tests.utils.factories import make_context, make_site, make_ward, make_wave
from wardprog.config import Settings
from wardprog.errors import SchedulingError
from wardprog.models import Notification
from wardprog.models.base import require_id
from wardprog.models.engagement import (
    EngagementEvent,
    EngagementEventChange,
    EventStatus,
    Facilitator,
    Venue,
)
from wardprog.rules.slots import LONDON, booking_window, to_utc
from wardprog.rules.working_days import england_bank_holidays
from wardprog.services.engagement import (
    cancel_event,
    event_history,
    existing_bookings,
    record_event_held,
    reschedule_event,
    run_engagement_stage,
    set_ward_preference,
)
from wardprog.services.venues import (
    register_facilitator,
    register_venue,
    set_facilitator_leave,
)


def _utc(value: datetime | None) -> datetime:
    """``to_utc`` of a timestamp the test expects set: an event's start or end, an old start."""
    assert value is not None
    return to_utc(value)


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _ics(note: Notification) -> Calendar:
    att = next(a for a in note.attachments if a["filename"].endswith(".ics"))
    return Calendar.from_ical(base64.b64decode(att["content_b64"]))


def _notes(session: Session, kind: str) -> list[Notification]:
    return list(session.exec(select(Notification).where(Notification.kind == kind)).all())


def test_stage_schedules_invites_and_is_idempotent(session: Session, settings: Settings) -> None:
    ctx = make_context(session, settings, as_of=date(2026, 1, 5))
    ctx.enrolment.diagnostic_at = datetime(2026, 1, 20, 17, tzinfo=LONDON)  # pack ready late

    outcome = run_engagement_stage(ctx)

    # Invited, not engaged: the stage waits until the event is recorded as held.
    assert not outcome.done and "engagement event" in outcome.summary
    event = session.exec(select(EngagementEvent)).one()
    assert event.uid == f"engagement-{ctx.ward.code}-wave1@wardprog"
    start = _utc(event.starts_at).astimezone(LONDON)
    assert start.date() > date(2026, 1, 20)
    assert date(2026, 1, 19) <= start.date() <= date(2026, 2, 16)
    assert start.time() == time(13, 30) and start.weekday() < 5
    assert _utc(event.ends_at) - _utc(event.starts_at) == timedelta(minutes=90)
    # Demo defaults were seeded for the site and the improvement team.
    assert _count(session, Venue) == 2 and _count(session, Facilitator) == 3

    (note,) = _notes(session, "engagement_invite")
    assert note.idempotency_key == f"engagement_invite:{ctx.ward.code}:wave-1:v0"
    facilitator = session.get_one(Facilitator, event.facilitator_id)
    assert note.recipients == [ctx.ward.manager_email, facilitator.email]
    assert {ctx.ward.code, ctx.site.code, "improvement-team"} <= set(note.tags)
    names = sorted(a["filename"] for a in note.attachments)
    assert names == [
        "engagement-event.ics",
        f"triage-{ctx.ward.code}-wave1.csv",
        f"triage-{ctx.ward.code}-wave1.xlsx",
    ]
    xlsx = next(a for a in note.attachments if a["filename"].endswith(".xlsx"))
    sheet = load_workbook(io.BytesIO(base64.b64decode(xlsx["content_b64"])))["Triage"]
    assert [c.value for c in sheet[1]] == [
        "Issue",
        "Raised by",
        "Category",
        "Suggested owner",
        "Notes",
    ]
    vevent = _ics(note).walk("VEVENT")[0]
    assert str(vevent["uid"]) == event.uid
    assert vevent.decoded("dtstart") == start
    assert "13:30" in note.body_text and "13:30" in note.body_html

    again = run_engagement_stage(ctx)
    assert not again.done and again.details["event_id"] == event.id
    assert "not yet recorded as held" in again.summary
    assert _count(session, EngagementEvent) == 1 and _count(session, Notification) == 1


def test_the_stage_completes_when_the_event_is_held(session: Session, settings: Settings) -> None:
    ctx = make_context(session, settings, as_of=date(2026, 1, 5))
    run_engagement_stage(ctx)
    event = session.exec(select(EngagementEvent)).one()
    day = _utc(event.starts_at).astimezone(LONDON).date()
    assert event.id is not None
    with pytest.raises(SchedulingError, match="cannot have been held"):
        record_event_held(session, event.id, day - timedelta(days=1), day, attendees=9)
    with pytest.raises(SchedulingError, match="in the future"):
        record_event_held(session, event.id, day, day - timedelta(days=1), attendees=9)
    with pytest.raises(SchedulingError, match="how many attended"):
        record_event_held(session, event.id, day, day)
    with pytest.raises(SchedulingError, match="only 1 attendees"):
        record_event_held(session, event.id, day, day, attendees=1, names=["A", "B"])
    assert not run_engagement_stage(ctx).done

    later = day + timedelta(days=3)
    held, changed = record_event_held(session, event.id, day, later, names=["Ann", "Bo"])
    assert changed and held.status is EventStatus.held and held.held_on == day
    assert (held.attendees_count, held.attendee_names) == (2, ["Ann", "Bo"])
    facilitator = session.get(Facilitator, event.facilitator_id)
    assert facilitator is not None and held.held_facilitator == facilitator.name
    assert record_event_held(session, event.id, day, later, names=["Ann", "Bo"])[1] is False
    with pytest.raises(SchedulingError, match="already recorded as held"):
        record_event_held(session, event.id, later, later, attendees=3)
    ctx.as_of = later
    done = run_engagement_stage(ctx)
    assert done.done and done.details["completed_on"] == day  # the enrolment records the day
    with pytest.raises(SchedulingError, match="already been held"):
        cancel_event(session, event.id, "too late", later)


def test_no_slot_explains_why(session: Session, settings: Settings) -> None:
    # The wave started long ago: the window has closed before the pack was even ready.
    ctx = make_context(session, settings, as_of=date(2026, 1, 5))
    ctx.as_of = date(2026, 3, 20)
    with pytest.raises(SchedulingError, match="after the window closes"):
        run_engagement_stage(ctx)
    assert _count(session, EngagementEvent) == 0


def test_ward_preferences_are_honoured(session: Session, settings: Settings) -> None:
    ctx = make_context(session, settings, as_of=date(2026, 1, 5))
    set_ward_preference(session, ctx.ward, preferred_starts=["14:00"], avoid_weekdays=[0, 1, 2])
    run_engagement_stage(ctx)
    event = session.exec(select(EngagementEvent)).one()
    start = _utc(event.starts_at).astimezone(LONDON)
    assert start.time() == time(14, 0) and start.weekday() in (3, 4)


def test_demo_scale_sixty_wards_never_clash(session: Session, settings: Settings) -> None:
    """Four waves x three sites x five wards, as the demo runs them."""
    sites = [make_site(session, code=f"DS{i}", name=f"Demo Site {i}") for i in range(3)]
    starts = [date(2026, 1, 5), date(2026, 4, 1), date(2026, 7, 1), date(2026, 10, 1)]
    for number, quarter_start in enumerate(starts, start=1):
        wave = make_wave(
            session,
            number=number,
            quarter_start=quarter_start,
            quarter_end=quarter_start + timedelta(days=90),
        )
        for site in sites:
            for _ in range(5):
                ctx = make_context(
                    session,
                    settings,
                    as_of=quarter_start,
                    site=site,
                    wave=wave,
                    ward=make_ward(session, site),
                )
                assert "engagement event" in run_engagement_stage(ctx).summary
    events = session.exec(select(EngagementEvent)).all()
    assert len(events) == 60
    from wardprog.models import Ward

    site_of = {w.id: w.site_id for w in session.exec(select(Ward)).all()}
    hols = england_bank_holidays(date(2026, 1, 1), date(2026, 12, 31))
    spans = [(_utc(e.starts_at), _utc(e.ends_at), e) for e in events]
    for a_start, a_end, a in spans:
        local = a_start.astimezone(LONDON)
        assert local.weekday() < 5 and local.date() not in hols
        assert local.time() == time(13, 30)
        for b_start, b_end, b in spans:
            if a.id != b.id and a_start < b_end and b_start < a_end:
                assert a.venue_id != b.venue_id
                assert a.facilitator_id != b.facilitator_id
                assert site_of[a.ward_id] != site_of[b.ward_id]
    # The slot finder reads only the events that overlap its window, in SQL: exactly those the
    # whole trust's list has there, in winter and summer time alike.
    everything = existing_bookings(session)
    windows = [(date(2026, 1, 12), date(2026, 2, 6)), (date(2026, 7, 6), date(2026, 8, 3))]
    for first, last in windows:
        lo, hi = booking_window(first, last)
        near = existing_bookings(session, window=(lo, hi))
        assert near and len(near) < len(everything)
        assert sorted(map(repr, near)) == sorted(
            repr(b) for b in everything if b.starts_at < hi and b.ends_at > lo
        )
    invites = _notes(session, "engagement_invite")
    assert len(invites) == 60
    for note in invites:
        vevent = _ics(note).walk("VEVENT")[0]
        start = vevent.decoded("dtstart")
        assert start.tzinfo is not None and (start.hour, start.minute) == (13, 30)
        # GMT in winter, BST (UTC+1) from the last Sunday in March to the last in October.
        bst = date(2026, 3, 29) <= start.date() < date(2026, 10, 25)
        assert start.utcoffset() == timedelta(hours=1 if bst else 0)


def test_a_wave_planned_at_once_books_what_ward_by_ward_would(
    session: Session, engine: Engine, settings: Settings
) -> None:
    """The wave's deciding step gives each ward the slot it would find in register order with
    the wards before it booked; the wards then book those slots in any order."""
    from wardprog.models import Stage
    from wardprog.services.enrolment import before_stage, run_stage

    as_of = date(2026, 1, 5)
    wave = make_wave(session, quarter_start=as_of, quarter_end=as_of + timedelta(days=90))
    contexts = []
    for site in (make_site(session, code="PA"), make_site(session, code="PB")):
        for _ in range(6):
            ctx = make_context(
                session, settings, as_of=as_of, site=site, wave=wave, ward=make_ward(session, site)
            )
            ctx.enrolment.stage = Stage.diagnostic
            contexts.append(ctx)
    session.commit()
    ids = [require_id(c.enrolment) for c in contexts]
    plans = before_stage(engine, settings, Stage.engagement, as_of, ids)
    assert sorted(plans) == sorted(ids)

    def booked() -> dict[int, tuple[object, ...]]:
        return {
            e.ward_id: (e.venue_id, e.facilitator_id, _utc(e.starts_at), _utc(e.ends_at))
            for e in session.exec(select(EngagementEvent)).all()
        }

    for ctx in contexts:  # ward by ward, each finding its own slot
        assert "engagement event" in run_engagement_stage(ctx).summary
    one_by_one = booked()
    session.rollback()
    for ctx in reversed(contexts):  # with the plans, in another order
        outcome = run_stage(engine, settings, require_id(ctx.enrolment), Stage.engagement, as_of,
                            plans[require_id(ctx.enrolment)])  # fmt: skip
        assert not outcome.done and "engagement event" in outcome.summary
    assert booked() == one_by_one and len(one_by_one) == 12
    assert len(_notes(session, "engagement_invite")) == 12
    # Planned once: wards with an event are not planned again.
    assert before_stage(engine, settings, Stage.engagement, as_of, ids) == {}


def test_reschedule_across_the_clock_change_keeps_history(
    session: Session, settings: Settings
) -> None:
    ctx = make_context(session, settings, as_of=date(2026, 2, 16))  # window 2 Mar - 30 Mar
    run_engagement_stage(ctx)
    event = session.exec(select(EngagementEvent)).one()
    first_start = _utc(event.starts_at)
    assert first_start.astimezone(LONDON).date() < date(2026, 3, 29)  # GMT

    # Monday 30 March 2026 is the first weekday of BST; a naive time means ward-clock time.
    moved = reschedule_event(
        session,
        require_id(event),
        datetime(2026, 3, 30, 13, 30),
        "Ward on outbreak measures",
        as_of=date(2026, 2, 20),
        settings=settings,
    )
    assert moved.sequence == 1
    assert _utc(moved.starts_at) == datetime(2026, 3, 30, 12, 30, tzinfo=UTC)
    (change,) = event_history(session, require_id(event))
    assert change.action == "reschedule" and change.reason == "Ward on outbreak measures"
    assert _utc(change.old_starts_at) == first_start

    update = next(
        n for n in _notes(session, "engagement_invite") if n.idempotency_key.endswith(":v1")
    )
    assert update.subject.startswith("Updated:")
    assert [a["filename"] for a in update.attachments] == ["engagement-event.ics"]
    vevent = _ics(update).walk("VEVENT")[0]
    assert int(str(vevent["sequence"])) == 1 and str(vevent["uid"]) == event.uid
    start = vevent.decoded("dtstart")
    assert (start.hour, start.minute, start.utcoffset()) == (13, 30, timedelta(hours=1))
    assert str(_ics(update).walk("VTIMEZONE")[0]["tzid"]) == "Europe/London"

    # Moving to the same time again is a no-op; moving onto a weekend is refused with a reason.
    reschedule_event(
        session,
        require_id(event),
        datetime(2026, 3, 30, 13, 30, tzinfo=LONDON),
        "again",
        as_of=date(2026, 2, 20),
        settings=settings,
    )
    assert len(event_history(session, require_id(event))) == 1
    with pytest.raises(SchedulingError, match="weekend"):
        reschedule_event(
            session,
            require_id(event),
            datetime(2026, 4, 4, 13, 30),
            "x",
            as_of=date(2026, 2, 20),
            settings=settings,
        )


def test_reschedule_refuses_a_site_clash(session: Session, settings: Settings) -> None:
    site = make_site(session)
    wave = make_wave(session, quarter_start=date(2026, 1, 5))
    a = make_context(session, settings, site=site, wave=wave, ward=make_ward(session, site))
    b = make_context(session, settings, site=site, wave=wave, ward=make_ward(session, site))
    run_engagement_stage(a)
    run_engagement_stage(b)
    ev_a, ev_b = session.exec(select(EngagementEvent).order_by(col(EngagementEvent.id))).all()
    with pytest.raises(SchedulingError, match="site already has a session"):
        reschedule_event(
            session,
            require_id(ev_b),
            _utc(ev_a.starts_at),
            "clash",
            as_of=date(2026, 1, 6),
            settings=settings,
        )
    assert ev_b.sequence == 0


def test_cancel_sends_method_cancel_once(session: Session, settings: Settings) -> None:
    ctx = make_context(session, settings, team=False)
    register_venue(session, ctx.site, "Day room", 16)
    register_facilitator(session, "Sam Lee", "Sam.Lee@trust.example", [3, 4])
    # On leave the first Thursday and Friday of the window (window opens Mon 19 Jan).
    set_facilitator_leave(session, "sam.lee@trust.example", [date(2026, 1, 22), date(2026, 1, 23)])
    run_engagement_stage(ctx)
    event = session.exec(select(EngagementEvent)).one()
    assert _utc(event.starts_at).astimezone(LONDON).date() == date(2026, 1, 29)
    assert session.get_one(Facilitator, event.facilitator_id).email == "sam.lee@trust.example"
    cancel_event(session, require_id(event), "Ward closed to admissions", as_of=date(2026, 1, 10))
    cancel_event(session, require_id(event), "Ward closed to admissions", as_of=date(2026, 1, 10))
    assert event.status is EventStatus.cancelled and event.sequence == 1
    (note,) = _notes(session, "engagement_cancelled")
    cal = _ics(note)
    assert str(cal["method"]) == "CANCEL"
    assert str(cal.walk("VEVENT")[0]["status"]) == "CANCELLED"
    assert int(str(cal.walk("VEVENT")[0]["sequence"])) == 1
    assert "Ward closed to admissions" in note.body_text
    assert _count(session, EngagementEventChange) == 1
    with pytest.raises(SchedulingError, match="only scheduled events can be moved"):
        reschedule_event(
            session,
            require_id(event),
            datetime(2026, 2, 2, 13, 30),
            "x",
            as_of=date(2026, 1, 10),
            settings=settings,
        )


def test_no_rooms_or_facilitators_waits_and_tells_the_team_once(
    session: Session, settings: Settings
) -> None:
    """Nothing fictional is booked on a real install: the stage waits for the register."""
    ctx = make_context(session, settings, team=False)
    first = run_engagement_stage(ctx)
    again = run_engagement_stage(ctx)
    assert not first.done and not again.done
    assert "no rooms or facilitators registered" in first.summary
    (note,) = _notes(session, "resources_missing")
    assert note.tags == ["improvement-team"] and note.ward_code is None
    assert f"wardprog venues add --site {ctx.site.code}" in note.body_text
    assert _count(session, EngagementEvent) == _count(session, Facilitator) == 0

    register_venue(session, ctx.site, "Day room", 16)
    still = run_engagement_stage(ctx)
    assert not still.done and "no facilitators registered" in still.summary
    assert len(_notes(session, "resources_missing")) == 2  # the new gap, said once
    register_facilitator(session, "Sam Lee", "sam.lee@trust.example", [0, 1, 2, 3, 4])
    assert "with Sam Lee" in run_engagement_stage(ctx).summary
    assert _count(session, EngagementEvent) == 1
