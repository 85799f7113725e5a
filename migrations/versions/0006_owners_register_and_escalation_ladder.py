"""owners register and escalation ladder; engagement events recorded as held; themes

Revision ID: 0006
Revises: 0007
Create Date: 2026-12-02 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _add_reference(table: str, column: str, target: str) -> None:
    """A nullable foreign-key column without rebuilding ``table``.

    On SQLite a batch rebuild drops and recreates the table, which other tables' foreign keys
    (improvement projects, attendance) forbid once rows exist; ``ADD COLUMN ... REFERENCES`` is
    allowed there for a column that defaults to NULL.
    """
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {target} (id)")
    else:
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(f"fk_{table}_{column}", table, target, [column], ["id"])
    op.create_index(f"ix_{table}_{column}", table, [column], unique=False)


def upgrade() -> None:
    op.create_table(
        "escalationowner",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("site_code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("specialty", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("directorate", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("escalationowner", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escalationowner_level"), ["level"], unique=False)
    op.create_table(
        "theme",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("merged_into_id", sa.Integer(), nullable=True),
        sa.Column("escalated_on", sa.Date(), nullable=True),
        sa.Column("escalated_wards", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["merged_into_id"], ["theme.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("theme", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_theme_key"), ["key"], unique=True)
    op.create_table(
        "warddeferral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ward_id", sa.Integer(), nullable=False),
        sa.Column("from_wave_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("deferred_on", sa.Date(), nullable=False),
        sa.Column("deferred_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["from_wave_id"], ["wave.id"]),
        sa.ForeignKeyConstraint(["ward_id"], ["ward.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("warddeferral", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_warddeferral_ward_id"), ["ward_id"], unique=False)
    # Existing items: no email, not on the ladder yet (the next daily run places overdue ones).
    with op.batch_alter_table("triageitem", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "owner_email",
                sqlmodel.sql.sqltypes.AutoString(length=320),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "escalation_level",
                sqlmodel.sql.sqltypes.AutoString(length=16),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("escalated_on", sa.Date(), nullable=True))
    _add_reference("triageitem", "theme_id", "theme")
    _add_reference("qsirnomination", "project_item_id", "triageitem")
    # Events already in the past stay "scheduled" until someone records them as held.
    with op.batch_alter_table("engagementevent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("attendees_count", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("attendee_names", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(
            sa.Column(
                "held_facilitator",
                sqlmodel.sql.sqltypes.AutoString(length=200),
                nullable=False,
                server_default="",
            )
        )
    # Change requests that were parked on the placeholder owner have no owner until the ladder
    # (or a decision) names one.
    placeholder = "'Improvement team / directorate'"
    op.execute(f"UPDATE triageitem SET owner = '' WHERE owner = {placeholder}")
    op.execute(f"UPDATE triageitem SET escalated_to = '' WHERE escalated_to = {placeholder}")


def _drop_reference(table: str, column: str) -> None:
    op.drop_index(f"ix_{table}_{column}", table_name=table)
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(f"fk_{table}_{column}", table, type_="foreignkey")
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_column(column)


def downgrade() -> None:
    _drop_reference("triageitem", "theme_id")
    _drop_reference("qsirnomination", "project_item_id")
    with op.batch_alter_table("engagementevent", schema=None) as batch_op:
        batch_op.drop_column("held_facilitator")
        batch_op.drop_column("attendee_names")
        batch_op.drop_column("attendees_count")
        batch_op.drop_column("held_on")
    with op.batch_alter_table("triageitem", schema=None) as batch_op:
        batch_op.drop_column("escalated_on")
        batch_op.drop_column("escalation_level")
        batch_op.drop_column("owner_email")
    with op.batch_alter_table("warddeferral", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_warddeferral_ward_id"))
    op.drop_table("warddeferral")
    with op.batch_alter_table("theme", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_theme_key"))
    op.drop_table("theme")
    with op.batch_alter_table("escalationowner", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalationowner_level"))
    op.drop_table("escalationowner")
