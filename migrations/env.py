"""Alembic environment: migrate the database named by WARDPROG_DATABASE_URL (or -x url=...)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import wardprog.models  # noqa: F401  (registers every table on SQLModel.metadata)
from wardprog.config import get_settings
from wardprog.db import make_engine, normalise_url

config = context.config
target_metadata = SQLModel.metadata


def _url() -> str:
    override = context.get_x_argument(as_dictionary=True).get("url")
    return normalise_url(
        override or config.get_main_option("sqlalchemy.url") or get_settings().database_url
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    # Batch mode lets the same migrations alter tables on SQLite.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
