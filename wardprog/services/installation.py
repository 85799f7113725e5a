"""Which installation a database is, and the guard that keeps demo code out of real ones.

A database is claimed once: ``wardprog db upgrade`` and the register import claim it for a real
deployment, the demo claims the fresh database it creates for itself. Demo code calls
:func:`require_demo` before writing anything, so a misconfigured ``WARDPROG_DATABASE_URL`` can
never fill a trust's database with fictional wards, staff or messages.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from wardprog.errors import WardprogError
from wardprog.models import Installation, InstallationKind, Ward


class NotADemoDatabaseError(WardprogError):
    """Demo code was pointed at a database the demo did not create."""


def installation_kind(session: Session) -> InstallationKind | None:
    row = session.exec(select(Installation).order_by(col(Installation.id))).first()
    return InstallationKind(row.kind) if row is not None else None


def claim(session: Session, kind: InstallationKind, claimed_by: str) -> InstallationKind:
    """Record ``kind`` for an unclaimed database; return what the database already is.

    A database that already holds wards but no record predates this table: it can only be a real
    deployment (the demo always claims its own database first), so it is recorded as one.
    """
    existing = installation_kind(session)
    if existing is not None:
        return existing
    wards = session.exec(select(func.count()).select_from(Ward)).one()
    if wards and kind is InstallationKind.demo:
        kind, claimed_by = InstallationKind.production, f"{claimed_by} (found existing wards)"
    session.add(Installation(kind=kind.value, claimed_by=claimed_by))
    session.flush()
    return kind


def claim_production(session: Session, claimed_by: str) -> None:
    """A real deployment's entry points mark the database; a demo database stays a demo."""
    claim(session, InstallationKind.production, claimed_by)


def require_demo(session: Session, url: str) -> None:
    """Refuse unless this database was created by the demo (claiming an empty, new one)."""
    kind = claim(session, InstallationKind.demo, "wardprog demo")
    if kind is not InstallationKind.demo:
        raise NotADemoDatabaseError(
            f"{_redacted(url)} is a real deployment's database, not the demo's: the demo never "
            "writes to it. Run the demo without WARDPROG_DATABASE_URL (it keeps its own database "
            "under var/demo/)."
        )


def _redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the configured database"
