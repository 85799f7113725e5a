"""Alembic migrations build exactly the schema the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from wardprog import migrate
from wardprog.db import make_engine


def test_upgrade_head_matches_models(fresh_settings):
    url = fresh_settings.database_url
    migrate.upgrade(url)
    migrate.upgrade(url)  # a second upgrade is a no-op
    engine = make_engine(url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diffs == [], (
        f"models and migrations differ; run alembic revision --autogenerate: {diffs}"
    )
    assert migrate.current(url) is not None
