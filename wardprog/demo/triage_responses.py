"""Simulated ward staff filling in the triage template after their engagement event.

The issues are the kind wards really raise (equipment, discharge delays, staffing, IT), in staff
language, with a mix of fix / improve / change and some raised anonymously. Each ward gets its
own deterministic selection so the demo replays identically.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

from openpyxl import load_workbook

from wardprog.services.context import StageContext
from wardprog.services.triage import triage_inbox
from wardprog.services.triage_template import SHEET, build_xlsx

# (issue, category, suggested owner or None, notes)
ISSUE_BANK: tuple[tuple[str, str, str | None, str], ...] = (
    ("Drug fridge temperature log is not filled in at weekends", "fix", None, ""),
    ("Commode cleaning checklist is out of date and nobody knows who signs it", "fix", None, ""),
    (
        "Sluice room door does not close properly",
        "fix",
        "Ward sister (days)",
        "Reported to estates twice",
    ),
    ("No agreed place for patient property bags on admission", "fix", None, ""),
    ("Handover sheet still lists patients who have been discharged", "fix", "Ward clerk", ""),
    ("Notice board has an old rota and out-of-date policies", "fix", None, ""),
    ("Spare pulse oximeter probes are locked away at night", "fix", "Nurse in charge (nights)", ""),
    ("Resus trolley checks are missed when the ward is busy", "fix", "Practice educator", ""),
    (
        "Most discharges happen after 4pm, so admissions wait in ED for our beds",
        "improve",
        "Discharge coordinator",
        "Could try criteria-led discharge",
    ),
    ("Falls at night are rising, especially in the side rooms", "improve", None, ""),
    ("Medication rounds are interrupted constantly", "improve", None, "Red tabards idea"),
    ("Pressure area risk assessments are not repeated after 72 hours", "improve", None, ""),
    ("Patients do not know their expected date of discharge", "improve", None, ""),
    ("Fluid balance charts are rarely complete", "improve", "Practice educator", ""),
    ("One hoist for 28 beds means long waits to get patients up", "change", None, ""),
    ("Ward clerk cover ends at 3pm; evenings have no one on reception", "change", "Matron", ""),
    ("Pharmacy take-home medicines take over four hours to arrive", "change", None, ""),
    ("The rota relies on bank and agency staff most nights", "change", "Matron", ""),
    ("Only two computers on wheels for the whole ward", "change", None, "Affects ward rounds"),
    ("No physiotherapy cover at weekends, so patients lose mobility", "change", None, ""),
)

# Staff put the same problem in their own words: the trust-wide theme groups them as one.
OWN_WORDS: dict[str, tuple[str, ...]] = {
    "One hoist for 28 beds means long waits to get patients up": (
        "One hoist for 28 beds means long waits to get patients up",
        "Only one hoist for 28 beds",
        "Hoist shortage - one hoist between 28 beds",
        "We only have one hoist on the ward so patients wait to get up",
    ),
}

RAISED_BY: tuple[str | None, ...] = (
    None,
    None,
    "anonymous",
    "Staff nurse",
    "Healthcare assistant (nights)",
    "Ward sister",
    "Physiotherapist",
    "Ward clerk",
    "Student nurse",
    "Junior doctor",
)


def drop_filled_template(ctx: StageContext, seed: int = 0) -> Path:
    """Write a filled triage template into the ward's inbox, as ward staff would return it.

    Deterministic per ward, wave and ``seed``; calling again rewrites the same rows.
    """
    rng = random.Random(f"{ctx.ward.code}:wave-{ctx.wave.number}:{seed}")
    by_category = {c: [i for i in ISSUE_BANK if i[1] == c] for c in ("fix", "improve", "change")}
    # Every ward raises something in each category, plus a few more from anywhere.
    chosen = [rng.choice(items) for items in by_category.values()]
    rest = [i for i in ISSUE_BANK if i not in chosen]
    chosen += rng.sample(rest, rng.randint(3, 6))
    rng.shuffle(chosen)

    wb = load_workbook(io.BytesIO(build_xlsx(ctx.ward.code, ctx.ward.name, ctx.wave.number)))
    ws = wb[SHEET]
    for issue, category, owner, notes in chosen:
        # Staff type categories however they like; the reader accepts any case.
        typed = category.capitalize() if rng.random() < 0.3 else category
        if issue in OWN_WORDS:
            issue = rng.choice(OWN_WORDS[issue])
        ws.append([issue, rng.choice(RAISED_BY), typed, owner, notes or None])
    inbox = triage_inbox(ctx.settings, ctx.ward.code)
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"triage-{ctx.ward.code}-wave{ctx.wave.number}-returned.xlsx"
    wb.save(path)
    return path
