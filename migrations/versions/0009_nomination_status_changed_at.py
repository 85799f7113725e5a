"""nomination status_changed_at: when a nominee last moved (deferred, withdrawn, booked...)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 03:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("qsirnomination", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("qsirnomination", schema=None) as batch_op:
        batch_op.drop_column("status_changed_at")
