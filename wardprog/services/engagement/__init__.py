"""Engagement events: book, invite, move, hold and cancel, in the caller's transaction.

- :mod:`.booking`: the ward's preferences and the slot finder over the site's rooms,
  facilitators and the trust's other events;
- :mod:`.invites`: the calendar request (.ics) with the triage template, and the cancellation;
- :mod:`.stage`: the engagement stage of a ward's wave, and a wave's slots decided at once;
- :mod:`.changes`: reschedule, record as held, cancel, the event's history, finding it.
"""

from wardprog.services.engagement.booking import existing_bookings, set_ward_preference
from wardprog.services.engagement.changes import (
    cancel_event,
    event_history,
    find_event,
    record_event_held,
    reschedule_event,
)
from wardprog.services.engagement.invites import event_uid
from wardprog.services.engagement.stage import plan_wave_events, run_engagement_stage

__all__ = [
    "cancel_event",
    "event_history",
    "event_uid",
    "existing_bookings",
    "find_event",
    "plan_wave_events",
    "record_event_held",
    "reschedule_event",
    "run_engagement_stage",
    "set_ward_preference",
]
