"""project aims and own measurements; one IHI score history for every project, with evidence

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-02 03:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AIM_COLUMNS = ("aim_measure", "aim_baseline", "aim_target", "aim_direction", "aim_by")


def upgrade() -> None:
    # Plain ADD COLUMN (no batch rebuild): pdsa, coaching and attendance rows reference projects.
    op.add_column(
        "improvementproject",
        sa.Column(
            "aim_measure",
            sqlmodel.sql.sqltypes.AutoString(length=120),
            nullable=False,
            server_default="",
        ),
    )
    op.add_column("improvementproject", sa.Column("aim_baseline", sa.Float(), nullable=True))
    op.add_column("improvementproject", sa.Column("aim_target", sa.Float(), nullable=True))
    op.add_column(
        "improvementproject",
        sa.Column(
            "aim_direction",
            sqlmodel.sql.sqltypes.AutoString(length=16),
            nullable=False,
            server_default="",
        ),
    )
    op.add_column("improvementproject", sa.Column("aim_by", sa.Date(), nullable=True))
    if op.get_bind().dialect.name != "sqlite":
        # The default only filled existing rows; SQLite keeps it (dropping it would rebuild
        # the table its referencing rows forbid), which changes nothing the models write.
        op.alter_column("improvementproject", "aim_measure", server_default=None)
        op.alter_column("improvementproject", "aim_direction", server_default=None)

    op.create_table(
        "projectmeasurement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["project_id"], ["improvementproject.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("project_id", "measured_on", name="uq_projectmeasurement_day"),
    )
    op.create_index(
        "ix_projectmeasurement_project_id", "projectmeasurement", ["project_id"], unique=False
    )

    # Nothing references improvementscore, so a batch rebuild (SQLite) is safe here: the score
    # history becomes the project's, the item optional (projects outside the programme).
    with op.batch_alter_table("improvementscore") as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("evidence_value", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "evidence_note",
                sqlmodel.sql.sqltypes.AutoString(),
                nullable=False,
                server_default="",
            )
        )
        batch_op.alter_column("triage_item_id", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index("ix_improvementscore_project_id", ["project_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_improvementscore_project_id", "improvementproject", ["project_id"], ["id"]
        )
    with op.batch_alter_table("improvementscore") as batch_op:
        batch_op.alter_column("evidence_note", server_default=None)
    # Existing scores (all an `improve` item's; 0007 gave every such item its project) join
    # their project's history.
    op.execute(
        "UPDATE improvementscore SET project_id = (SELECT p.id FROM improvementproject p "
        "WHERE p.triage_item_id = improvementscore.triage_item_id) WHERE project_id IS NULL"
    )


def downgrade() -> None:
    # Scores of projects outside the programme have no item to keep them under.
    op.execute("DELETE FROM improvementscore WHERE triage_item_id IS NULL")
    with op.batch_alter_table("improvementscore") as batch_op:
        batch_op.drop_constraint("fk_improvementscore_project_id", type_="foreignkey")
        batch_op.drop_index("ix_improvementscore_project_id")
        batch_op.alter_column("triage_item_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("evidence_note")
        batch_op.drop_column("evidence_value")
        batch_op.drop_column("project_id")
    op.drop_index("ix_projectmeasurement_project_id", table_name="projectmeasurement")
    op.drop_table("projectmeasurement")
    with op.batch_alter_table("improvementproject") as batch_op:
        for column in _AIM_COLUMNS:
            batch_op.drop_column(column)
