"""web access: per-person key versions for signed ward-page links

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webaccess",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
        sa.Column("key_version", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webaccess", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webaccess_email"), ["email"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("webaccess", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webaccess_email"))
    op.drop_table("webaccess")
