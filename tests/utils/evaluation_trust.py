"""A small trust with a known programme effect, for the evaluation and board report tests.

12 wards on 3 sites; three waves of three wards have their engagement events in January, April
and July 2025; three wards have not joined. Extracts run from January 2024 to June 2026 with a
seeded effect on falls and sickness and none elsewhere (no random ward-level step changes).
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from sqlmodel import Session

from tests.utils.factories import make_enrolment, make_programme, make_site, make_ward, make_wave
from wardprog.models import Stage
from wardprog.sources.synthetic import KnownEffects, generate_extracts

START, END = date(2024, 1, 1), date(2026, 6, 30)
AS_OF = date(2026, 7, 1)
WARDS = [(f"S{s}-W{w}", f"S{s}", 30) for s in range(1, 4) for w in range(1, 5)]
EVENTS = {code: date(2025, 1 + 3 * (i // 3), 15) for i, (code, _s, _b) in enumerate(WARDS[:9])}
WAVES = {code: 1 + i // 3 for i, (code, _s, _b) in enumerate(WARDS)}
FALLS, SICKNESS = 0.7, 0.85
SEED = 11


def exposure_start(event: date) -> date:
    return (pd.Timestamp(event) + pd.offsets.MonthBegin(1)).date()


def write_extracts(folder: Path) -> Path:
    effects = KnownEffects(
        {"falls": FALLS, "sickness": SICKNESS},
        {code: exposure_start(day) for code, day in EVENTS.items()},
    )
    generate_extracts(WARDS, folder, START, END, seed=SEED, effects=effects, shift_share=0)
    return folder


def seed_trust(session: Session) -> None:
    """Register, programme, four waves and enrolments; engagement held for the first three."""
    programme = make_programme(session, date(2025, 1, 2))
    sites = {code: make_site(session, code, f"Site {code}") for code in ("S1", "S2", "S3")}
    waves = {
        n: make_wave(
            session,
            programme,
            n,
            quarter_start=date(2025, 1 + 3 * (n - 1), 1),
            quarter_end=(pd.Timestamp(2025, 3 * n, 1) + pd.offsets.MonthEnd(0)).date(),
        )
        for n in range(1, 5)
    }
    for code, site, beds in WARDS:
        ward = make_ward(session, sites[site], code, beds=beds)
        enrolment = make_enrolment(
            session, ward, waves[WAVES[code]], Stage.complete if code in EVENTS else Stage.enrolled
        )
        if code in EVENTS:
            enrolment.engagement_at = datetime.combine(
                EVENTS[code], time(13, 30), ZoneInfo("Europe/London")
            )
            session.add(enrolment)
    session.commit()
