"""`wardprog db ...`: the database schema (Alembic migrations)."""

from __future__ import annotations

import typer

from wardprog.cli.common import console

db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations to WARDPROG_DATABASE_URL."""
    from wardprog.config import get_settings
    from wardprog.db import session_scope
    from wardprog.migrate import upgrade
    from wardprog.services.installation import claim_production

    upgrade(get_settings().database_url, revision)
    with session_scope() as session:
        claim_production(session, "wardprog db upgrade")
    console.print(f"database at revision {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's migration revision."""
    from wardprog.config import get_settings
    from wardprog.migrate import current

    console.print(current(get_settings().database_url) or "(empty database)")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
