"""owner changes: who held each change request from when (raised, escalated, decided)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ownerchange",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("triage_item_id", sa.Integer(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("owner", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("owner_email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["triage_item_id"], ["triageitem.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("ownerchange", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ownerchange_triage_item_id"), ["triage_item_id"], unique=False
        )
    # Requests already on the ladder start their history with the rung they are on now (the
    # earlier owners were not kept): a past date before it is chased with that owner too.
    op.execute(
        'INSERT INTO ownerchange (triage_item_id, "on", owner, owner_email, level, reason,'
        " created_at) SELECT id, escalated_on, owner, owner_email, escalation_level,"
        " 'backfilled', CURRENT_TIMESTAMP FROM triageitem"
        " WHERE category = 'change' AND escalated_on IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("ownerchange", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ownerchange_triage_item_id"))
    op.drop_table("ownerchange")
