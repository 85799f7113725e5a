"""The inbox: one convention for every file sent back, by a ward or by the improvement team.

Each kind of return has its own folder per ward (``<inbox_dir>/<ward_code>/<kind>/``: ``triage``,
``qsir``, ``tracker``) and the improvement team's own registers have theirs
(``<inbox_dir>/team/<kind>/``: ``register``, ``staff``, ``owners``, ``attendance``, read by
``services/team_inbox.py``). Whoever reads a returned file either

- **accepts** it: :func:`file_on_commit` moves it to ``processed/`` once the stage's
  transaction commits (if the transaction rolls back, the file stays and the next run imports
  it again, idempotently); or
- **quarantines** it: :func:`quarantine` enqueues ONE message to the ward manager and the
  improvement team (the team alone for a team file), keyed by the file's content hash so the
  same bad file dropped again, or a re-run, never sends twice, and, when that commits, moves
  the file to ``rejected/`` with an ``.errors.txt`` beside it naming file, row, column and the
  fix. A poison file is never read
  again, the stage waits for a corrected file and the run goes on for every other ward.

The stage must not raise after quarantining (it returns "waiting"), so the message and the move
commit together with the stage's own transaction.

A new kind plugs in with three calls inside its stage (see ``services/qsir/stage.py``)::

    folder = inbox_folder(settings, ward.code, "tracker")
    for returned in returned_files(folder):
        try:
            rows = read_tracker(returned.path, returned.data)   # raises InputFileError
            record(...)                                         # raises InputFileError
        except InputFileError as err:
            quarantine(session, returned, err, what="monthly tracker", ward=ward, site=site)
            continue
        file_on_commit(session, returned)
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlmodel import Session

from wardprog.config import Settings
from wardprog.errors import InputFileError
from wardprog.models import Notification, Site, Ward
from wardprog.notify.outbox import enqueue
from wardprog.notify.routing import IMPROVEMENT_TEAM_TAG

PROCESSED = "processed"
REJECTED = "rejected"
# Problems listed in the message itself; the errors file beside the rejected file has them all.
MESSAGE_PROBLEMS = 20

_PENDING = "wardprog_inbox_pending_moves"
_HOOKED = "wardprog_inbox_hooks"


@dataclass(frozen=True)
class ReturnedFile:
    """A file found in an inbox folder, read once so its content hash is what was imported."""

    path: Path
    data: bytes
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


# The improvement team's folder sits beside the wards' (a ward code is never "team": codes are
# upper case and the register refuses a clash, see ``services/register.py``).
TEAM = "team"


def inbox_folder(settings: Settings, ward_code: str, kind: str) -> Path:
    return Path(settings.inbox_dir) / ward_code / kind


def team_folder(settings: Settings, kind: str) -> Path:
    """Where the improvement team drops its own files of ``kind`` (``<inbox_dir>/team/<kind>``)."""
    return Path(settings.inbox_dir) / TEAM / kind


def returned_files(folder: Path) -> list[ReturnedFile]:
    """Every file waiting in ``folder``, oldest name first, whatever its type.

    Any file counts (an ``.xls`` must be answered, not ignored); only Excel's ``~$name.xlsx``
    lock files, hidden/sync files and our own ``.tmp`` files being written are not returns.
    """
    if not folder.is_dir():
        return []
    found: list[ReturnedFile] = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(("~$", ".")) or path.suffix == ".tmp":
            continue
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # moved away by a concurrent run
        found.append(ReturnedFile(path, data, hashlib.sha256(data).hexdigest()))
    return found


def free_name(dest: Path) -> Path:
    """Never overwrite: a ward may return a corrected file under the same name."""
    candidate, n = dest, 1
    while candidate.exists():
        candidate = dest.with_name(f"{dest.stem}.{n}{dest.suffix}")
        n += 1
    return candidate


# --- accepted files: moved once the transaction commits -------------------------------------


def _after_commit(session: Session) -> None:
    for src, dest, note in session.info.pop(_PENDING, []):
        if src.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            moved = free_name(dest)
            shutil.move(str(src), str(moved))
            if note is not None:
                moved.with_name(moved.name + ".errors.txt").write_text(note, encoding="utf-8")


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def move_on_commit(session: Session, src: Path, dest: Path, errors: str | None = None) -> None:
    """Move ``src`` to ``dest`` (never overwriting) once the transaction commits.

    ``errors``, if given, is written beside the moved file as ``<name>.errors.txt``.
    """
    if not session.info.get(_HOOKED):
        event.listen(session, "after_commit", _after_commit)
        event.listen(session, "after_soft_rollback", lambda s, _t: _after_rollback(s))
        session.info[_HOOKED] = True
    session.info.setdefault(_PENDING, []).append((src, dest, errors))


def file_on_commit(session: Session, returned: ReturnedFile | Path) -> None:
    """File an accepted return in ``processed/`` when (and only if) the transaction commits."""
    path = returned.path if isinstance(returned, ReturnedFile) else returned
    move_on_commit(session, path, path.parent / PROCESSED / path.name)


# --- rejected files: quarantined and answered once -------------------------------------


def errors_text(returned: ReturnedFile, err: InputFileError, what: str) -> str:
    """Every problem, one per line, naming the file, row and column, then what to do."""
    lines = [f"{returned.name}: {what} not imported ({len(err.problems)} problem(s))", ""]
    for problem in err.problems:
        lines.append(f"{returned.name}, {problem}")
    lines += ["", "Nothing from this file has been recorded.", _fix_hint(returned)]
    return "\n".join(lines) + "\n"


def _fix_hint(returned: ReturnedFile) -> str:
    return (
        f"Correct the file and drop it in the {returned.path.parent.name} folder again "
        f"({returned.path.parent})."
    )


def reject_on_commit(
    session: Session, returned: ReturnedFile, err: InputFileError, what: str
) -> Path:
    """Move a bad file to ``rejected/`` with its ``.errors.txt`` when the transaction commits.

    The move commits with the message telling the ward: if the transaction rolls back, the file
    stays in the inbox and the next run rejects (and reports) it again, so a ward is never left
    with a quarantined file and no message. Returns the ``rejected/`` folder.
    """
    folder = returned.path.parent / REJECTED
    move_on_commit(session, returned.path, folder / returned.name, errors_text(returned, err, what))
    return folder


def problem_lines(err: InputFileError, limit: int = MESSAGE_PROBLEMS) -> list[str]:
    shown = [str(p) for p in err.problems[:limit]]
    if len(err.problems) > limit:
        shown.append(f"... and {len(err.problems) - limit} more (see the errors file)")
    return shown


def quarantine(
    session: Session,
    returned: ReturnedFile,
    err: InputFileError,
    *,
    what: str,
    ward: Ward | None = None,
    site: Site | None = None,
    message_kind: str = "file_rejected",
    key: str | None = None,
    context: dict[str, Any] | None = None,
) -> Notification:
    """Reject ``returned`` whole: move it aside and tell whoever sent it, once.

    A ward's file (``ward`` given) tells the ward manager and the team; a team file (no ward)
    tells the improvement team alone. ``what`` names the kind for people ("QSIR nomination
    file"). The message is keyed by the file's content hash: the same bad file again (or a
    re-run) reuses the first message.
    """
    rejected = reject_on_commit(session, returned, err, what)
    sender = ward.code if ward is not None else TEAM
    tags = [code for code in (ward and ward.code, site and site.code) if code]
    return enqueue(
        session,
        key=key or f"{message_kind}:{sender}:{returned.path.parent.name}:{returned.sha256[:16]}",
        kind=message_kind,
        tags=[*tags, IMPROVEMENT_TEAM_TAG],
        context={
            "ward_name": ward.name if ward is not None else "",
            "ward_code": ward.code if ward is not None else "",
            "manager_name": (ward.manager_name or "Ward manager")
            if ward is not None
            else "improvement team",
            "what": what,
            "filename": returned.name,
            "rejected_folder": str(rejected),
            "inbox": str(returned.path.parent),
            "problems": problem_lines(err),
            **(context or {}),
        },
        ward_code=ward.code if ward is not None else None,
        recipients=[ward.manager_email] if ward is not None and ward.manager_email else [],
    )
