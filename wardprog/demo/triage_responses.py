"""Simulated ward staff filling in the triage template after their engagement event.

The issues come from a bank of staff issue texts (``demo_data/issues.csv``), written as ward
nurses write them and tagged with the specialties they belong to (``any``, or specialty groups
from :data:`wardprog.sources.synthetic.PROFILES`: no hoists on a paediatric ward, no theatre
lists in maternity), how often wards raise them (``weight``: trust-wide problems such as
computers on wheels, bank fill and pharmacy waits come up on many wards, so the programme's
trust-wide themes are real) and how staff tend to sort them (``fix``/``improve``/``change``
weights: the same broken printer is a fix on one ward and a change request on another).

Each ward has its own lean too (some wards sort nearly everything themselves, some escalate), so
wards raise different mixes. Every draw is seeded by ward and wave, so the demo replays
identically.
"""

from __future__ import annotations

import csv
import io
import random
from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from openpyxl import load_workbook
from sqlmodel import Session, select

from wardprog.models import Ward
from wardprog.services.context import StageContext
from wardprog.services.triage import triage_inbox
from wardprog.services.triage.template import SHEET, build_xlsx
from wardprog.sources.synthetic import specialty_group

CATEGORIES = ("fix", "improve", "change")
# A ward returns six to nine issues (what one engagement event's wall of sticky notes becomes).
ISSUES_PER_WARD = (6, 9)


@dataclass(frozen=True)
class BankIssue:
    """One issue text from the bank: where it is raised, how often, how staff sort it."""

    issue: str
    specialties: frozenset[str]  # empty: any specialty
    weights: tuple[float, float, float]  # fix, improve, change
    weight: float
    owner: str | None
    notes: str

    def fits(self, group: str | None) -> bool:
        return not self.specialties or group in self.specialties


def issue_bank_path() -> Path:
    return Path(__file__).resolve().parent.parent / "demo_data" / "issues.csv"


@cache
def issue_bank(path: Path | None = None) -> tuple[BankIssue, ...]:
    """The bank as shipped (``demo_data/issues.csv``), read once."""
    with (path or issue_bank_path()).open(newline="", encoding="utf-8") as handle:
        return tuple(
            BankIssue(
                issue=row["issue"].strip(),
                specialties=frozenset(
                    s.strip() for s in row["specialties"].split(";") if s.strip() != "any"
                ),
                weights=(float(row["fix"]), float(row["improve"]), float(row["change"])),
                weight=float(row["weight"]),
                owner=row["owner"].strip() or None,
                notes=row["notes"].strip(),
            )
            for row in csv.DictReader(handle)
        )


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


def choose_issues(
    ward_code: str,
    specialty: str | None,
    wave: int,
    seed: int = 0,
    place: tuple[int, int] = (0, 1),
) -> list[tuple[BankIssue, str]]:
    """The issues one ward raises at its event, each with the category its staff gave it.

    Staff talk first about what is particular to their kind of ward: the bank's issues tagged
    with the ward's specialty group are shuffled once per group and dealt across that group's
    wards (``place``: this ward's position among them and how many there are), so between them
    the trust's wards raise all of them. The rest of the list is drawn by weight from everything
    that fits, so trust-wide problems come up again and again. Every ward raises at least one
    fix, one improvement and one change. Pure and deterministic.
    """
    rng = random.Random(f"{ward_code}:wave-{wave}:{seed}")
    group = specialty_group(specialty)
    fitting = [i for i in issue_bank() if i.fits(group)]
    deck = [i for i in fitting if i.specialties]
    random.Random(f"deck:{group}:{seed}").shuffle(deck)
    # Issues only this kind of ward has are dealt first (a critical care unit's blood gas
    # analyser before the pressure mattresses it shares with the medical wards).
    deck.sort(key=lambda i: len(i.specialties))
    position, of = place
    own = deck[position::of] if of > 0 else []
    count = rng.randint(*ISSUES_PER_WARD)
    # The ward's own issues, then a weighted draw without replacement (Efraimidis-Spirakis).
    picked = own[: count - 3]
    rest = [i for i in fitting if i not in picked]
    ranked = sorted(rest, key=lambda i: rng.random() ** (1 / i.weight), reverse=True)
    picked += ranked[: count - len(picked)]
    # The ward's own lean: how readily its staff sort a problem themselves or escalate it.
    lean = [rng.uniform(0.5, 1.5) for _ in CATEGORIES]
    chosen: list[tuple[BankIssue, str]] = []
    for issue in picked:
        weights = [w * k for w, k in zip(issue.weights, lean, strict=True)]
        chosen.append((issue, rng.choices(CATEGORIES, weights=weights)[0]))
    for category in CATEGORIES:
        if any(c == category for _, c in chosen):
            continue
        # Swap an issue of a category the ward raised twice for one it would sort this way.
        taken = {i.issue for i, _ in chosen}
        spare = next(
            i for i in ranked if i.issue not in taken and i.weights[CATEGORIES.index(category)]
        )
        counts = {c: sum(1 for _, k in chosen if k == c) for c in CATEGORIES}
        drop = next(n for n in range(len(chosen) - 1, -1, -1) if counts[chosen[n][1]] > 1)
        chosen[drop] = (spare, category)
    return chosen


def specialty_groups(session: Session) -> dict[str | None, list[str]]:
    """The register's ward codes by specialty group, each group sorted.

    Read as two columns, once for a day's returns: a national register's wards are read per
    day, not per ward returning a template (which made the simulated staff grow with the
    square of the trust).
    """
    groups: defaultdict[str | None, list[str]] = defaultdict(list)
    for code, specialty in session.exec(select(Ward.code, Ward.specialty)):
        groups[specialty_group(specialty)].append(code)
    return {group: sorted(codes) for group, codes in groups.items()}


def place_in_group(ward: Ward, groups: dict[str | None, list[str]]) -> tuple[int, int]:
    """This ward's position among the register's wards of its specialty group, and their count."""
    same = groups.get(specialty_group(ward.specialty), [])
    return same.index(ward.code) if ward.code in same else 0, max(len(same), 1)


def drop_filled_template(
    ctx: StageContext, seed: int = 0, groups: dict[str | None, list[str]] | None = None
) -> Path:
    """Write a filled triage template into the ward's inbox, as ward staff would return it.

    Deterministic per ward, wave and ``seed``; calling again rewrites the same rows. ``groups``
    (:func:`specialty_groups`) saves reading the register again when many wards return at once.
    """
    rng = random.Random(f"{ctx.ward.code}:wave-{ctx.wave.number}:{seed}:typing")
    place = place_in_group(ctx.ward, groups or specialty_groups(ctx.session))
    chosen = choose_issues(ctx.ward.code, ctx.ward.specialty, ctx.wave.number, seed, place)
    wb = load_workbook(io.BytesIO(build_xlsx(ctx.ward.code, ctx.ward.name, ctx.wave.number)))
    ws = wb[SHEET]
    for issue, category in chosen:
        # Staff type categories however they like; the reader accepts any case.
        typed = category.capitalize() if rng.random() < 0.3 else category
        ws.append([issue.issue, rng.choice(RAISED_BY), typed, issue.owner, issue.notes or None])
    inbox = triage_inbox(ctx.settings, ctx.ward.code)
    inbox.mkdir(parents=True, exist_ok=True)
    path = inbox / f"triage-{ctx.ward.code}-wave{ctx.wave.number}-returned.xlsx"
    wb.save(path)
    return path
