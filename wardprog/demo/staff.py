"""Demo ward staff: an ESR-style staff extract, nomination returns and QSIR attendance.

Everything is seeded and deterministic so a replay of the demo trust produces the same people,
the same nominees and the same registers every time.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlmodel import Session, col, select

from wardprog.commands import Actor, RecordPresentation, Source, TakeRegister, build
from wardprog.config import get_settings
from wardprog.models import (
    Course,
    NominationStatus,
    QsirAttendance,
    QsirCohort,
    QsirNomination,
    StaffMember,
)
from wardprog.services import qsir
from wardprog.services.context import StageContext
from wardprog.services.handlers import run

FIRST_NAMES = [
    "Amelia",
    "Olivia",
    "Isla",
    "Ava",
    "Mia",
    "Grace",
    "Sophie",
    "Chloe",
    "Emily",
    "Ruby",
    "Hannah",
    "Lucy",
    "Ellie",
    "Freya",
    "Megan",
    "Priya",
    "Aisha",
    "Fatima",
    "Zainab",
    "Nkechi",
    "Adaeze",
    "Chiamaka",
    "Grace",
    "Maria",
    "Joy",
    "Rose",
    "Mercy",
    "Blessing",
    "Anjali",
    "Deepa",
    "Sunita",
    "Mary",
    "Ann",
    "Jessica",
    "Laura",
    "Rachel",
    "Sarah",
    "Claire",
    "Joanne",
    "Nicola",
    "Rebecca",
    "Gemma",
    "James",
    "Oliver",
    "Harry",
    "Jack",
    "Thomas",
    "Daniel",
    "Samuel",
    "Joseph",
    "David",
    "Michael",
    "Tomasz",
    "Piotr",
    "Ravi",
    "Arjun",
    "Mohammed",
    "Yusuf",
    "Kwame",
    "Emeka",
    "Joel",
    "Paolo",
    "Carlos",
    "Liam",
    "Ryan",
    "Aaron",
]
SURNAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Ahmed",
    "Begum",
    "Ali",
    "Hussain",
    "Okafor",
    "Adeyemi",
    "Mensah",
    "Owusu",
    "Nwosu",
    "Santos",
    "Reyes",
    "Dela",
    "Cruz",
    "Fernandes",
    "Kowalski",
    "Nowak",
    "Singh",
    "Sharma",
    "Kaur",
    "Gill",
    "Murphy",
    "Kelly",
    "O'Brien",
    "Campbell",
    "Stewart",
    "Hughes",
    "Edwards",
    "Lewis",
    "Morgan",
    "Harris",
    "Martin",
    "Cooper",
    "Ward",
    "Turner",
    "Hill",
    "Moore",
    "Baker",
    "Chapman",
    "Mistry",
    "Joseph",
    "Thomas",
]

# (role, band, how many on a typical acute ward: min, max). The ward manager is added separately.
WARD_ESTABLISHMENT: tuple[tuple[str, str, int, int], ...] = (
    ("Deputy Sister/Charge Nurse", "Band 6", 2, 3),
    ("Practice Development Nurse", "Band 6", 0, 1),
    ("Staff Nurse", "Band 5", 8, 12),
    ("Nursing Associate", "Band 4", 1, 2),
    ("Senior Healthcare Assistant", "Band 3", 2, 3),
    ("Healthcare Assistant", "Band 2", 4, 6),
    ("Ward Clerk", "Band 2", 1, 1),
    ("Housekeeper", "Band 2", 0, 1),
)
# Registered clinical staff are the usual QSIR Practitioner nominees.
NOMINEE_ROLES = ("Deputy Sister/Charge Nurse", "Practice Development Nurse", "Staff Nurse")
EMAIL_DOMAIN = "trust.example"
STAFF_COLUMNS = ("staff_number", "name", "role", "band", "ward_code", "email")


def _email(name: str, used: set[str]) -> str:
    local = ".".join(part.lower().replace("'", "") for part in name.split())
    candidate, n = local, 1
    while candidate in used:
        n += 1
        candidate = f"{local}{n}"
    used.add(candidate)
    return f"{candidate}@{EMAIL_DOMAIN}"


def write_staff_extract(wards: list[tuple[str, str]], path: Path, seed: int = 11) -> Path:
    """Write a staff extract (CSV, or xlsx by suffix) of 20-30 staff per ward.

    ``wards`` are (ward_code, manager_name) pairs; each manager appears as the ward's Band 7
    Ward Manager so the register and the staff list agree.
    """
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    used_emails: set[str] = set()
    per_ward: list[list[tuple[str, str, str]]] = []
    for _ward_code, manager in wards:
        people = [
            (
                manager or f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                "Ward Manager",
                "Band 7",
            )
        ]
        for role, band, low, high in WARD_ESTABLISHMENT:
            for _ in range(rng.randint(low, high)):
                people.append((f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}", role, band))
        while len(people) < 20:
            people.append(
                (f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}", "Staff Nurse", "Band 5")
            )
        per_ward.append(people[:30])
    # ESR employee numbers are eight digits, unique across the trust.
    numbers = rng.sample(range(20_000_000, 30_000_000), sum(len(p) for p in per_ward))
    it = iter(numbers)
    for (ward_code, _), people in zip(wards, per_ward, strict=True):
        for name, role, band in people:
            rows.append(
                {
                    "staff_number": str(next(it)),
                    "name": name,
                    "role": role,
                    "band": band,
                    "ward_code": ward_code,
                    "email": _email(name, used_emails),
                }
            )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        import pandas as pd

        pd.DataFrame(rows, columns=list(STAFF_COLUMNS)).to_excel(path, index=False)
    else:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=STAFF_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    return path


def nomination_filename(wave_number: int) -> str:
    return f"nominations-wave-{wave_number}.csv"


def drop_nomination_return(ctx: StageContext, seed: int = 0) -> Path:
    """The ward manager returns the nomination file: registered nurses from their own ward.

    Chooses ``qsir_nominees_per_ward`` staff not already nominated. If this wave's return is
    already in the inbox it is left untouched (a re-run must not change what was returned).
    """
    folder = qsir.nomination_inbox(ctx.settings, ctx.ward.code)
    path = folder / nomination_filename(ctx.wave.number)
    if path.exists() or (folder / "processed" / path.name).exists():
        return path
    staff = ctx.session.exec(
        select(StaffMember)
        .where(StaffMember.ward_id == ctx.ward.id)
        .order_by(col(StaffMember.staff_number))
    ).all()
    nominated = set(
        ctx.session.exec(
            select(QsirNomination.staff_id).where(QsirNomination.course == Course.practitioner)
        ).all()
    )
    candidates = [s for s in staff if s.role in NOMINEE_ROLES and s.id not in nominated]
    if len(candidates) < ctx.settings.qsir_nominees_per_ward:
        candidates += [
            s
            for s in staff
            if s not in candidates and s.id not in nominated and s.role != "Ward Manager"
        ]
    rng = random.Random(f"{seed}:{ctx.ward.code}:{ctx.wave.number}")
    count = min(ctx.settings.qsir_nominees_per_ward, len(candidates))
    chosen = sorted(rng.sample(candidates, count), key=lambda s: s.staff_number)
    approver = ctx.ward.manager_name or f"{ctx.ward.code} ward manager"
    return qsir.write_nomination_return(
        ctx.settings,
        ctx.ward.code,
        [(s.staff_number, Course.practitioner.value, approver) for s in chosen],
        nomination_filename(ctx.wave.number),
    )


@dataclass
class AttendanceSimulation:
    sessions_recorded: int
    projects_presented: int
    completion: qsir.CompletionReport | None


FACULTY = Actor(name="QSIR faculty")
DEMO = Source(kind="demo")

# Most nominees attend every day; a few miss one to sickness or short staffing.
ATTENDANCE_RATE = 0.93
PROJECT_DELAYS_DAYS: Sequence[int] = (0, 0, 0, 0, 0, 0, 0, 14, 28, 42)


def simulate_attendance(
    session: Session, as_of: date, seed: int = 0, evaluate: bool = True
) -> AttendanceSimulation:
    """Fill in registers for teaching days up to ``as_of`` and present projects, then (by
    default) apply the completion rule, so the demo's trained counts grow as the clock moves.

    Each outcome is drawn from a generator seeded by the nominee (staff number and course) and
    day, so replays agree whatever order or frequency they run in; not by row id, which a
    wave's wards recording their nominations concurrently hand out in any order.
    """
    nominations = session.exec(
        select(QsirNomination)
        .where(
            col(QsirNomination.status).in_(qsir.ACTIVE), col(QsirNomination.cohort_id).is_not(None)
        )
        .order_by(col(QsirNomination.id))
    ).all()
    cohorts = {c.id: c for c in session.exec(select(QsirCohort)).all()}
    recorded = {
        (a.nomination_id, a.session_date)
        for a in session.exec(
            select(QsirAttendance).where(
                col(QsirAttendance.nomination_id).in_([n.id for n in nominations])
            )
        ).all()
    }
    staff = {
        m.id: m.staff_number
        for m in session.exec(
            select(StaffMember).where(col(StaffMember.id).in_([n.staff_id for n in nominations]))
        ).all()
    }

    def nominee(n: QsirNomination) -> str:
        return f"{staff[n.staff_id]}:{n.course.value}"

    settings = get_settings()
    # Each teaching day's register, as the facilitator takes it: who of the cohort was there.
    registers: dict[tuple[str, date], tuple[list[str], list[str]]] = {}
    for n in nominations:
        assert n.id is not None
        cohort = cohorts[n.cohort_id]
        for day in qsir.cohort_dates(cohort):
            if day > as_of or (n.id, day) in recorded:
                continue
            rng = random.Random(f"{seed}:{nominee(n)}:{day.isoformat()}")
            present, absent = registers.setdefault((cohort.code, day), ([], []))
            (present if rng.random() < ATTENDANCE_RATE else absent).append(staff[n.staff_id])
    sessions = 0
    for (code, day), (present, absent) in sorted(
        registers.items(), key=lambda r: (r[0][1], r[0][0])
    ):
        run(session, settings, build(TakeRegister, actor=FACULTY, source=DEMO, on=day,
                                     cohort=code, session_date=day, present=sorted(present),
                                     absent=sorted(absent)))  # fmt: skip
        sessions += len(present) + len(absent)
    projects = 0
    for n in nominations:
        dates = qsir.cohort_dates(cohorts[n.cohort_id])
        if n.course == Course.practitioner and not n.project_presented and dates[-1] <= as_of:
            rng = random.Random(f"{seed}:{nominee(n)}:project")
            presented_on = dates[-1] + timedelta(days=rng.choice(PROJECT_DELAYS_DAYS))
            if presented_on <= as_of and n.status in (
                NominationStatus.booked,
                NominationStatus.attending,
            ):
                run(session, settings, build(RecordPresentation, actor=FACULTY, source=DEMO,
                                             on=presented_on,
                                             staff_number=staff[n.staff_id]))  # fmt: skip
                projects += 1
    report = qsir.evaluate_completion(session, as_of) if evaluate else None
    return AttendanceSimulation(sessions, projects, report)
