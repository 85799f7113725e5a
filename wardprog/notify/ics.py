"""iCalendar invites (RFC 5545) built with `icalendar`: engagement events and QSIR sessions.

Times are written in Europe/London with a VTIMEZONE, so Outlook shows 10:00 as 10:00 on both
sides of the clock change. The UID is stable per real-world meeting and SEQUENCE goes up on each
reschedule, which is how calendar clients replace rather than duplicate an invite.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

from wardprog import clock
from wardprog.config import LONDON

PRODID = "-//wardprog//ward improvement programme//EN"


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    summary: str
    starts_at: datetime  # timezone-aware
    ends_at: datetime
    location: str = ""
    description: str = ""
    sequence: int = 0
    organizer: str | None = None
    attendees: tuple[str, ...] = field(default_factory=tuple)
    stamp: datetime | None = None  # fixed DTSTAMP keeps re-rendered invites byte-identical


def build_calendar(events: Sequence[CalendarEvent], method: str = "REQUEST") -> bytes:
    """One VCALENDAR; ``method`` is REQUEST for invites/updates and CANCEL for cancellations."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("method", method)
    for ev in events:
        if ev.starts_at.tzinfo is None or ev.ends_at.tzinfo is None:
            raise ValueError(f"event {ev.uid}: start and end must be timezone-aware")
        item = Event()
        item.add("uid", ev.uid)
        item.add("summary", ev.summary)
        item.add("dtstart", ev.starts_at.astimezone(LONDON))
        item.add("dtend", ev.ends_at.astimezone(LONDON))
        item.add("dtstamp", (ev.stamp or clock.now()).astimezone(UTC))
        item.add("sequence", ev.sequence)
        item.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
        if ev.location:
            item.add("location", ev.location)
        if ev.description:
            item.add("description", ev.description)
        if ev.organizer:
            organizer = vCalAddress(f"mailto:{ev.organizer}")
            organizer.params["cn"] = vText("Improvement team")
            item["organizer"] = organizer
        for email in ev.attendees:
            attendee = vCalAddress(f"mailto:{email}")
            attendee.params["role"] = vText("REQ-PARTICIPANT")
            attendee.params["rsvp"] = vText("TRUE")
            item.add("attendee", attendee, encode=False)
        cal.add_component(item)
    return _to_ical_with_timezones(cal)


@lru_cache(maxsize=8)
def _vtimezone_ical(tzid: str) -> bytes:
    """The VTIMEZONE for ``tzid`` as iCalendar text, built and serialised once per process.

    Building it from zoneinfo and serialising its transitions costs about 20 ms per invite;
    it is the same text for every invite.
    """
    return Timezone.from_tzid(tzid).to_ical()


def _to_ical_with_timezones(cal: Calendar) -> bytes:
    """``cal`` serialised with the VTIMEZONEs ``add_missing_timezones()`` would add (same
    default range, same place: before the first component), taken from the cache.
    """
    blocks: list[bytes] = []
    for tzid in sorted(cal.get_missing_tzids()):
        try:
            blocks.append(_vtimezone_ical(tzid))
        except ValueError:
            continue  # unknown to zoneinfo: left out, as icalendar does
    raw = cal.to_ical()
    if not blocks:
        return raw
    # Content lines fold with CRLF + space, so CRLF + "BEGIN:" only starts a component.
    at = raw.index(b"\r\nBEGIN:", 1) + 2
    return raw[:at] + b"".join(blocks) + raw[at:]
