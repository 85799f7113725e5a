from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar

from wardprog.notify.ics import CalendarEvent, build_calendar

LONDON = ZoneInfo("Europe/London")


def test_invite_round_trips_in_london_time_across_dst():
    summer = CalendarEvent(
        uid="evt-1@wardprog",
        summary="Engagement",
        sequence=2,
        starts_at=datetime(2026, 3, 30, 10, 0, tzinfo=LONDON),  # BST (UTC+1)
        ends_at=datetime(2026, 3, 30, 11, 30, tzinfo=LONDON),
        attendees=("manager@trust.example",),
        organizer="qi@trust.example",
    )
    winter = CalendarEvent(
        uid="evt-2@wardprog",
        summary="Engagement",
        starts_at=datetime(2026, 3, 27, 10, 0, tzinfo=LONDON),  # GMT
        ends_at=datetime(2026, 3, 27, 11, 30, tzinfo=LONDON),
    )
    cal = Calendar.from_ical(build_calendar([summer, winter]))
    assert cal["method"] == "REQUEST"
    assert cal.walk("VTIMEZONE")[0]["tzid"] == "Europe/London"
    events = {str(e["uid"]): e for e in cal.walk("VEVENT")}
    start = events["evt-1@wardprog"].decoded("dtstart")
    assert (start.hour, start.utcoffset().total_seconds()) == (10, 3600)
    assert events["evt-2@wardprog"].decoded("dtstart").utcoffset().total_seconds() == 0
    assert int(events["evt-1@wardprog"].decoded("sequence")) == 2


def test_cancel_method():
    ev = CalendarEvent(
        uid="x@wardprog",
        summary="s",
        starts_at=datetime(2026, 5, 1, 9, tzinfo=LONDON),
        ends_at=datetime(2026, 5, 1, 10, tzinfo=LONDON),
    )
    cal = Calendar.from_ical(build_calendar([ev], method="CANCEL"))
    assert cal["method"] == "CANCEL"
    assert cal.walk("VEVENT")[0]["status"] == "CANCELLED"
