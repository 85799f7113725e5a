"""How long the pure slot finder takes as the trust's diary fills up.

    .venv/bin/python benchmarks/engagement_slots.py [wards_per_site] [sites]

Schedules every ward of four waves (default 5 per site x 3 sites, and a bigger trust) against the
bookings made so far, as the engagement stage does, and prints the figures.
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from datetime import time as clock

from wardprog.demo.team import DEMO_FACILITATORS, DEMO_ROOMS
from wardprog.rules.slots import (
    Booking,
    FacilitatorAvailability,
    Room,
    SlotRequest,
    find_slot,
)
from wardprog.rules.working_days import england_bank_holidays


def run(
    wards_per_site: int, sites: int, starts: tuple[clock, ...], waves: int = 4
) -> tuple[int, float]:
    rooms = {
        s: [Room(s * 10 + i, name, cap) for i, (name, cap) in enumerate(DEMO_ROOMS)]
        for s in range(sites)
    }
    people = [
        FacilitatorAvailability(i, f.name, frozenset(f.working_days))
        for i, f in enumerate(DEMO_FACILITATORS)
    ]
    bookings: list[Booking] = []
    started = time.perf_counter()
    for wave in range(waves):
        quarter_start = date(2026, 1, 5) + timedelta(days=91 * wave)
        first, last = quarter_start + timedelta(days=14), quarter_start + timedelta(days=42)
        hols = england_bank_holidays(first, last)
        for site in range(sites):
            for _ in range(wards_per_site):
                request = SlotRequest(
                    site_id=site, first_day=first, last_day=last, preferred_starts=starts
                )
                slot = find_slot(request, rooms[site], people, bookings, hols)
                bookings.append(
                    Booking(slot.starts_at, slot.ends_at, site, slot.room.id, slot.facilitator.id)
                )
    return len(bookings), time.perf_counter() - started


def main() -> None:
    wards_per_site = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    sites = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    # The demo's shape, then a bigger trust using a morning slot too (3 facilitators cap it).
    cases = (
        (wards_per_site, sites, (clock(13, 30),)),
        (6, 8, (clock(10, 0), clock(13, 30))),
    )
    for per_site, n_sites, starts in cases:
        count, seconds = run(per_site, n_sites, starts)
        print(
            f"{n_sites} sites x {per_site} wards x 4 waves: {count} events scheduled in "
            f"{seconds * 1000:.0f} ms ({seconds * 1000 / count:.2f} ms/event)"
        )


if __name__ == "__main__":
    main()
