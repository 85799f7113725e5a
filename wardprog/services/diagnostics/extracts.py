"""Diagnostic extracts: loaded, checked against the ward register and refused when impossible.

Extracts that cannot be read, or that hold something impossible for the ward
(``sources/plausibility.py``), are refused before anything is computed. Rows for wards outside
the register are skipped with one line saying how many.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from sqlmodel import Session, col, func, select

from wardprog import clock
from wardprog.config import Settings
from wardprog.errors import InputFileError, WardprogError
from wardprog.models import (
    Site,
    Ward,
)
from wardprog.sources.extracts import Extracts, load_folder
from wardprog.sources.plausibility import summary_lines
from wardprog.sources.synthetic import generate_extracts

logger = logging.getLogger(__name__)


class DiagnosticError(WardprogError):
    """The diagnostic pull or re-check cannot run; the message says what is missing."""


def load_extracts(settings: Settings, wards: Iterable[str] | None = None) -> Extracts:
    """The validated extracts folder (cached in-process by path, file mtimes and ``wards``).

    With ``wards``, only those wards' rows are read (a wave's, for its diagnostic stage).
    """
    return load_folder(Path(settings.extracts_dir), wards=wards)


def check_extract_wards(session: Session, extracts: Extracts) -> str | None:
    """Rows for wards outside the register are skipped: one line saying how many, or None.

    A trust-wide extract holds every ward in the trust; only the programme's wards are read.
    """
    # Ward codes never change and wards are never deleted, so the register's size and newest id
    # say whether it changed; the codes themselves are read once per register version and
    # extracts folder, not once per ward (which made every diagnostic stage read the trust).
    count, newest = session.exec(select(func.count(col(Ward.id)), func.max(Ward.id))).one()
    version = (str(session.get_bind().engine.url), count, newest)
    rows, codes = extracts.outside_register(version, lambda: session.exec(select(Ward.code)).all())
    if not rows:
        return None
    shown = ", ".join(codes[:5]) + (f" and {len(codes) - 5} more" if len(codes) > 5 else "")
    line = f"skipped {rows:,} extract rows for {len(codes)} ward(s) not in the register ({shown})"
    logger.info(line)
    return line


class ExtractsRefused(DiagnosticError):
    """A ward's extract data cannot be true; no pack is built from it until it is corrected."""

    def __init__(self, ward_code: str | None, lines: list[str]) -> None:
        self.ward_code = ward_code
        self.lines = lines
        whose = f"{ward_code}'s extract data" if ward_code else "the diagnostic extracts"
        super().__init__(
            f"{whose} refused ({len(lines)} problem line(s)):\n"
            + "\n".join(f"  - {line}" for line in lines)
        )


# Problems listed in a refusal message; `wardprog check-extracts` lists them all.
REFUSAL_LINES = 20


def refuse_impossible(settings: Settings, extracts: Extracts, ward_code: str, as_of: date) -> None:
    """Raise :class:`ExtractsRefused` if the ward's rows hold anything that cannot be true.

    Months "in the future" are judged against the later of ``as_of`` and today: a replay on a
    simulated clock reads extracts that run to the end of the replay. The wall clock on purpose:
    only a month after the real today cannot have happened yet.
    """
    findings = extracts.impossible_for(
        ward_code,
        as_of=max(as_of, clock.wall_now().date()),
        max_actual_to_planned=settings.extract_max_actual_to_planned,
    )
    if findings:
        raise ExtractsRefused(ward_code, summary_lines(findings, extracts.sources, REFUSAL_LINES))


def load_checked(
    session: Session,
    settings: Settings,
    ward_code: str,
    as_of: date,
    wards: Iterable[str] | None = None,
) -> Extracts:
    """The extracts, with the ward's data checked for what cannot be true.

    ``wards`` (which must include ``ward_code``) limits the rows read to those wards'.
    """
    try:
        extracts = load_extracts(settings, wards)
    except InputFileError as err:
        lines = [str(p) for p in err.problems[:REFUSAL_LINES]]
        for part in getattr(err, "files", [])[1:]:
            lines += [f"{Path(str(part.path)).name}, {p}" for p in part.problems[:5]]
        first = Path(str(err.path)).name
        raise ExtractsRefused(None, [f"{first}, {line}" for line in lines][:REFUSAL_LINES]) from err
    check_extract_wards(session, extracts)
    refuse_impossible(settings, extracts, ward_code, as_of)
    return extracts


def generate_register_extracts(
    session: Session, out_dir: Path, start: date, end: date, seed: int = 7
) -> list[Path]:
    """Synthetic extracts for every ward in the register (the demo's helper, no CLI needed)."""
    rows = session.exec(select(Ward.code, Site.code, Ward.beds, Ward.specialty).join(Site)).all()
    if not rows:
        raise DiagnosticError("the ward register is empty: load wards before generating extracts")
    return generate_extracts(
        [(w, s, b) for w, s, b, _ in rows],
        out_dir,
        start,
        end,
        seed,
        specialties={w: spec for w, _, _, spec in rows},
    )
