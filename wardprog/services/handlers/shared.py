"""What several handler modules share: finding the ward, the outcome of a project or an import."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from wardprog.models import (
    ImprovementProject,
    Ward,
)
from wardprog.services.handlers.bus import Outcome


def ward_code_of(session: Session, ward_id: int) -> str:
    ward = session.get(Ward, ward_id)
    assert ward is not None
    return ward.code


def imported(count: int, kind: str, path: Path) -> Outcome:
    """What a register import says: how many rows of ``kind`` came from which file."""
    return Outcome(
        f"{count} {kind} imported from {path.name}",
        subject=f"{kind} register",
        details={"imported": count, "file": str(path)},
    )


def project_outcome(session: Session, project: ImprovementProject, summary: str) -> Outcome:
    return Outcome(
        summary,
        ward_code=ward_code_of(session, project.ward_id) if project.ward_id else None,
        item_id=project.triage_item_id,
        subject=f"project {project.id}",
        details={"project_id": project.id, "status": project.status.value},
    )
