"""The pure engagement slot finder: properties over random diaries, and its explanations."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wardprog.errors import SchedulingError
from wardprog.rules.slots import (
    LONDON,
    Booking,
    FacilitatorAvailability,
    Room,
    SlotRequest,
    booking_window,
    engagement_window,
    find_slot,
    find_slots,
    is_working_day,
)
from wardprog.rules.working_days import england_bank_holidays

ROOMS = {1: [Room(1, "Seminar", 24), Room(2, "Meeting", 14)], 2: [Room(3, "Seminar B", 20)]}
PEOPLE = [
    FacilitatorAvailability(1, "Priya"),
    FacilitatorAvailability(2, "Tom"),
    FacilitatorAvailability(3, "Grace", frozenset({0, 1, 2})),
]
STARTS = (time(13, 30), time(13, 0), time(14, 0))


def _overlap(a: Booking, b: Booking) -> bool:
    return a.starts_at < b.ends_at and b.starts_at < a.ends_at


@st.composite
def diaries(draw: st.DrawFn) -> tuple[SlotRequest, list[Booking]]:
    # Windows around Easter and the late-March clock change, where bank holidays bite.
    first = date(2026, 3, 9) + timedelta(days=draw(st.integers(0, 40)))
    last = first + timedelta(days=draw(st.integers(0, 30)))
    site = draw(st.sampled_from([1, 2]))
    bookings = []
    for _ in range(draw(st.integers(0, 40))):
        day = first + timedelta(days=draw(st.integers(-3, 33)))
        start = datetime.combine(day, draw(st.sampled_from(STARTS)), LONDON)
        bookings.append(
            Booking(
                starts_at=start.astimezone(UTC),
                ends_at=(start + timedelta(minutes=90)).astimezone(UTC),
                site_id=draw(st.sampled_from([1, 2])),
                room_id=draw(st.sampled_from([1, 2, 3, None])),
                facilitator_id=draw(st.sampled_from([1, 2, 3])),
            )
        )
    request = SlotRequest(
        site_id=site,
        first_day=first,
        last_day=last,
        preferred_starts=tuple(draw(st.lists(st.sampled_from(STARTS), min_size=1, max_size=3))),
        attendees=draw(st.sampled_from([10, 16])),
        avoid_weekdays=frozenset(draw(st.sets(st.integers(0, 4), max_size=2))),
        ward_code="W1",
    )
    return request, bookings


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(diaries())
def test_found_slot_respects_every_constraint(diary: tuple[SlotRequest, list[Booking]]) -> None:
    request, bookings = diary
    rooms = ROOMS[request.site_id]
    holidays = england_bank_holidays(request.first_day, request.last_day)
    try:
        slot = find_slot(request, rooms, PEOPLE, bookings)
    except SchedulingError as exc:
        assert "No engagement slot for ward W1" in str(exc)
        _assert_no_slot_exists(request, rooms, bookings, holidays)
        return
    day = slot.starts_at.date()
    assert request.first_day <= day <= request.last_day
    assert is_working_day(day, holidays)
    assert day.weekday() not in request.avoid_weekdays
    assert slot.starts_at.timetz().replace(tzinfo=None) in request.preferred_starts
    assert slot.ends_at - slot.starts_at == timedelta(minutes=90)
    assert slot.room.capacity >= request.attendees
    assert day.weekday() in slot.facilitator.working_days
    new = Booking(slot.starts_at, slot.ends_at, request.site_id, slot.room.id, slot.facilitator.id)
    for b in bookings:
        if _overlap(new, b):
            assert b.site_id != request.site_id, "two sessions on one site at once"
            assert b.room_id != slot.room.id, "room double-booked"
            assert b.facilitator_id != slot.facilitator.id, "facilitator double-booked"
    # The facilitator is the least booked of those free then (in the window, ties by id).
    lo, hi = booking_window(request.first_day, request.last_day)
    load = Counter(b.facilitator_id for b in bookings if b.starts_at < hi and b.ends_at > lo)
    free = [
        f
        for f in PEOPLE
        if day.weekday() in f.working_days
        and not any(_overlap(new, b) for b in bookings if b.facilitator_id == f.id)
    ]
    assert slot.facilitator == min(free, key=lambda f: (load[f.id], f.id))


def _assert_no_slot_exists(
    request: SlotRequest, rooms: list[Room], bookings: list[Booking], holidays: frozenset[date]
) -> None:
    """Brute force: the finder only gives up when nothing fits."""
    day = request.first_day
    while day <= request.last_day:
        if is_working_day(day, holidays) and day.weekday() not in request.avoid_weekdays:
            for at in request.preferred_starts:
                start = datetime.combine(day, at, LONDON)
                end = start + request.duration
                probe = Booking(start, end, request.site_id)
                clashes = [b for b in bookings if _overlap(probe, b)]
                if any(b.site_id == request.site_id for b in clashes):
                    continue
                room_ok = any(
                    r.capacity >= request.attendees and all(b.room_id != r.id for b in clashes)
                    for r in rooms
                )
                person_ok = any(
                    day.weekday() in p.working_days
                    and all(b.facilitator_id != p.id for b in clashes)
                    for p in PEOPLE
                )
                assert not (room_ok and person_ok), f"finder missed {start}"
        day += timedelta(days=1)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 200), st.integers(0, 10))
def test_window_starts_strictly_after_pack_ready(offset: int, pack_delay: int) -> None:
    quarter_start = date(2026, 1, 5) + timedelta(days=offset)
    pack_ready = quarter_start + timedelta(days=pack_delay + 10)
    hols = england_bank_holidays(quarter_start, quarter_start + timedelta(days=60))
    first, last = engagement_window(
        quarter_start=quarter_start,
        start_days=14,
        end_days=42,
        pack_ready=pack_ready,
        as_of=quarter_start,
        bank_holidays=hols,
    )
    assert first > pack_ready
    assert first >= quarter_start + timedelta(days=14)
    assert last == quarter_start + timedelta(days=42)


def test_sessions_spread_across_the_window() -> None:
    """Five wards on a site land in different weeks before any week gets a second."""
    bookings: list[Booking] = []
    request = SlotRequest(site_id=1, first_day=date(2026, 1, 19), last_day=date(2026, 2, 16))
    slots = []
    for _ in range(4):
        slot = find_slot(request, ROOMS[1], PEOPLE, bookings)
        slots.append(slot)
        bookings.append(Booking(slot.starts_at, slot.ends_at, 1, slot.room.id, slot.facilitator.id))
    assert len({s.starts_at.isocalendar()[1] for s in slots}) == 4
    # The early/late shift overlap is the default ward preference.
    assert all(s.starts_at.astimezone(LONDON).time() == time(13, 30) for s in slots)


def test_never_on_a_bank_holiday_and_explains_why() -> None:
    # Easter 2026: Good Friday 3 April, Easter Monday 6 April; the window is just those days
    # plus the weekend in between.
    request = SlotRequest(
        site_id=1, first_day=date(2026, 4, 3), last_day=date(2026, 4, 6), ward_code="A-01"
    )
    with pytest.raises(SchedulingError) as err:
        find_slot(request, ROOMS[1], PEOPLE, [])
    message = str(err.value)
    assert "ward A-01" in message
    assert "2 weekend day(s)" in message
    assert "2 bank holiday(s) (03 Apr, 06 Apr)" in message
    assert "WARDPROG_ENGAGEMENT_WINDOW" in message


def test_explains_a_full_site_and_busy_facilitators() -> None:
    day = date(2026, 2, 4)  # a Wednesday
    start = datetime.combine(day, time(13, 30), LONDON)
    end = start + timedelta(minutes=90)
    busy_site = [Booking(start, end, 1, 1, 1)]
    request = SlotRequest(site_id=1, first_day=day, last_day=day, ward_code="A-02")
    with pytest.raises(SchedulingError, match="1 time\\(s\\) when the site already has a session"):
        find_slot(request, ROOMS[1], PEOPLE, busy_site)
    everyone_elsewhere = [Booking(start, end, 2, 3, p.id) for p in PEOPLE]
    with pytest.raises(SchedulingError, match="no facilitator working, free and not on leave"):
        find_slot(request, ROOMS[1], PEOPLE, everyone_elsewhere)
    on_leave = [FacilitatorAvailability(p.id, p.name, unavailable=frozenset({day})) for p in PEOPLE]
    with pytest.raises(SchedulingError, match="not on leave"):
        find_slot(request, ROOMS[1], on_leave, [])


def test_explains_rooms_too_small_and_window_in_the_past() -> None:
    request = SlotRequest(
        site_id=1, first_day=date(2026, 2, 2), last_day=date(2026, 2, 27), attendees=30
    )
    with pytest.raises(SchedulingError, match="no room on the site seats 30"):
        find_slot(request, ROOMS[1], PEOPLE, [])
    late = SlotRequest(site_id=1, first_day=date(2026, 3, 2), last_day=date(2026, 2, 27))
    with pytest.raises(SchedulingError, match="after the window closes"):
        find_slot(late, ROOMS[1], PEOPLE, [])


def test_reschedule_keeps_room_and_facilitator_when_free() -> None:
    day = date(2026, 2, 10)
    request = SlotRequest(
        site_id=1, first_day=day, last_day=day, keep_room_id=2, keep_facilitator_id=3
    )
    slot = find_slot(request, ROOMS[1], PEOPLE, [])
    assert (slot.room.id, slot.facilitator.id) == (2, 3)


@st.composite
def waves(draw: st.DrawFn) -> tuple[list[SlotRequest], list[Booking]]:
    """A wave's wards asking at once: one diary's bookings, several wards' requests."""
    first_request, bookings = draw(diaries())
    requests = [first_request]
    for n in range(draw(st.integers(0, 7))):
        request, _ = draw(diaries())
        requests.append(SlotRequest(**{**request.__dict__, "ward_code": f"W{n + 2}"}))
    return requests, bookings


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(waves())
def test_a_wave_decided_at_once_gets_what_ward_by_ward_would(
    wave: tuple[list[SlotRequest], list[Booking]],
) -> None:
    """find_slots in one pass == find_slot ward by ward with each slot booked in between."""
    requests, bookings = wave
    together = find_slots(requests, ROOMS, PEOPLE, bookings)
    booked = list(bookings)
    for request, got in zip(requests, together, strict=True):
        try:
            slot = find_slot(request, ROOMS[request.site_id], PEOPLE, booked)
        except SchedulingError as exc:
            assert isinstance(got, SchedulingError) and str(got) == str(exc)
            continue
        assert got == slot
        booked.append(
            Booking(
                slot.starts_at, slot.ends_at, request.site_id, slot.room.id, slot.facilitator.id
            )
        )
    # And no two of the wave's own slots clash on a site, room or facilitator.
    mine = [
        (r, s)
        for r, s in zip(requests, together, strict=True)
        if not isinstance(s, SchedulingError)
    ]
    for i, (ra, a) in enumerate(mine):
        for rb, b in mine[i + 1 :]:
            if a.starts_at < b.ends_at and b.starts_at < a.ends_at:
                assert ra.site_id != rb.site_id
                assert a.room.id != b.room.id and a.facilitator.id != b.facilitator.id
