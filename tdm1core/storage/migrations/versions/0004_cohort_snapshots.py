"""The validated patient table, stored once per state of the stored patients (tdm1core.stats.cohort_snapshot).

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cohort_snapshots",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("revision", sa.String(100), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("revision", name="uq_cohort_snapshots_revision"),
    )


def downgrade() -> None:
    op.drop_table("cohort_snapshots")
