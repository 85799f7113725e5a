"""The improvement team's inbox: its own registers, filed the way wards' returns are.

The team drops each file it keeps in ``<inbox_dir>/team/<kind>/``:

==============  ==========================================================================
``register``    the ward register (sites, wards, managers), as ``wardprog import-wards``
``staff``       the ESR staff extract, as ``wardprog staff import``
``owners``      the owners register (matrons, directorate leads, the executive)
``attendance``  a QSIR teaching day's register, named ``<COHORT>_<YYYY-MM-DD>.csv``
==============  ==========================================================================

:func:`file_team_returns` reads every waiting file, oldest name first, register before staff
(staff name wards) before owners and attendance (which name staff), each in its own
transaction, through the ward inbox's helpers (``services/inbox.py``): a good file is imported
and moved to ``processed/`` when that commits; a bad one writes nothing (its import runs in a
savepoint rolled back on any error), is moved to ``rejected/`` with ``<name>.errors.txt`` naming
file, row and column, and the team gets one message keyed by the file's content hash. A re-run
finds nothing left to file and sends nothing.

Staff, owners and attendance go through the same commands as the CLI (audited, source
``file``); the ward register is imported as ``wardprog import-wards`` does, claiming the
database for a real deployment.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from wardprog import commands as c
from wardprog.config import Settings
from wardprog.db import session_scope
from wardprog.errors import InputFileError, RowProblem, WardprogError
from wardprog.services.inbox import (
    PROCESSED,
    REJECTED,
    ReturnedFile,
    file_on_commit,
    quarantine,
    returned_files,
    team_folder,
)

# Who acted, for the audit: the file says nothing about who dropped it.
TEAM_ACTOR = c.Actor(name="improvement team")
# A teaching day's register names its cohort and day: QSIR-P-2026-Q2_2026-05-04.csv
_ATTENDANCE_NAME = re.compile(r"^(?P<cohort>.+)_(?P<day>\d{4}-\d{2}-\d{2})$")

Reader = Callable[[Session, Settings, ReturnedFile, date], str]


@dataclass(frozen=True)
class Filed:
    """What happened to one team file: ``filed`` (imported) or ``rejected``."""

    kind: str
    file: str
    outcome: Literal["filed", "rejected"]
    summary: str
    moved_to: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _source(returned: ReturnedFile) -> c.Source:
    return c.Source(kind="file", file=str(returned.path))


def _run(session: Session, settings: Settings, command: c.Command) -> str:
    # Imported here: the handlers import every service, and this module is one of them.
    from wardprog.services.handlers import run

    return run(session, settings, command).summary


def file_register(session: Session, _settings: Settings, returned: ReturnedFile, _on: date) -> str:
    """The ward register, as ``wardprog import-wards`` imports it."""
    from wardprog.services.installation import claim_production
    from wardprog.services.register import import_register

    claim_production(session, "wardprog inbox file")
    result = import_register(session, returned.path, returned.data)
    return (
        f"sites added {result.sites_added}, wards added {result.wards_added}, "
        f"wards updated {result.wards_updated}"
    )


def file_staff(session: Session, settings: Settings, returned: ReturnedFile, on: date) -> str:
    """The ESR staff extract, as ``wardprog staff import`` imports it."""
    command = c.build(
        c.ImportStaff, actor=TEAM_ACTOR, source=_source(returned), on=on, path=returned.path
    )
    return _run(session, settings, command)


def file_owners(session: Session, settings: Settings, returned: ReturnedFile, on: date) -> str:
    """The owners register, as ``wardprog owners import`` replaces it."""
    command = c.build(
        c.ImportOwners, actor=TEAM_ACTOR, source=_source(returned), on=on, path=returned.path
    )
    return _run(session, settings, command)


def attendance_name(path: Path) -> tuple[str, date]:
    """The cohort and teaching day a register file's name gives (``<COHORT>_<YYYY-MM-DD>``)."""
    match = _ATTENDANCE_NAME.match(path.stem)
    day: date | None = None
    if match:
        try:
            day = date.fromisoformat(match["day"])
        except ValueError:
            day = None
    if match is None or day is None:
        raise InputFileError(
            path,
            [
                RowProblem(
                    None,
                    None,
                    f"the file name {path.name!r} must give the cohort and teaching day, "
                    "e.g. QSIR-P-2026-Q2_2026-05-04.csv",
                )
            ],
        )
    return match["cohort"], day


def file_attendance(session: Session, settings: Settings, returned: ReturnedFile, _on: date) -> str:
    """A teaching day's register, as ``wardprog qsir register COHORT DATE --file`` takes it."""
    from wardprog.services.qsir_register import read_register_file

    cohort, day = attendance_name(returned.path)
    present, absent = read_register_file(returned.path)
    command = c.build(
        c.TakeRegister,
        actor=TEAM_ACTOR,
        source=_source(returned),
        on=day,  # the audit records the teaching day, as the CLI does
        cohort=cohort,
        session_date=day,
        present=present,
        absent=absent,
    )
    return _run(session, settings, command)


# kind (the folder name) -> (what people call it, the reader); the order is the filing order.
TEAM_KINDS: dict[str, tuple[str, Reader]] = {
    "register": ("ward register", file_register),
    "staff": ("staff register", file_staff),
    "owners": ("owners register", file_owners),
    "attendance": ("QSIR attendance register", file_attendance),
}


def _as_file_error(returned: ReturnedFile, exc: WardprogError) -> InputFileError:
    """Every refusal becomes a file error: an unknown cohort is a problem with the file too."""
    if isinstance(exc, InputFileError):
        return exc
    return InputFileError(returned.path, [RowProblem(None, None, str(exc))])


def file_team_return(
    engine: Engine | None, settings: Settings, kind: str, returned: ReturnedFile, as_of: date
) -> Filed:
    """File one team return in its own transaction: imported and moved, or rejected whole."""
    what, reader = TEAM_KINDS[kind]
    with session_scope(engine) as session:
        try:
            # A savepoint, so a file refused halfway through its writes leaves none of them.
            with session.begin_nested():
                summary = reader(session, settings, returned, as_of)
        except WardprogError as exc:
            err = _as_file_error(returned, exc)
            quarantine(session, returned, err, what=what)
            return Filed(
                kind,
                returned.name,
                "rejected",
                f"{len(err.problems)} problem(s): {err.problems[0]}" if err.problems else str(err),
                str(returned.path.parent / REJECTED),
            )
        file_on_commit(session, returned)
        return Filed(kind, returned.name, "filed", summary, str(returned.path.parent / PROCESSED))


def file_team_returns(
    engine: Engine | None, settings: Settings, as_of: date, kinds: tuple[str, ...] | None = None
) -> list[Filed]:
    """File every waiting team return, kind by kind in :data:`TEAM_KINDS` order."""
    filed: list[Filed] = []
    for kind in kinds or tuple(TEAM_KINDS):
        for returned in returned_files(team_folder(settings, kind)):
            filed.append(file_team_return(engine, settings, kind, returned, as_of))
    return filed
