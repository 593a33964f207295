"""Cut-off profiles: named, versioned, never overwritten (tdm1core.calling.profiles).

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cutoff_profiles",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False), sa.Column("version", sa.Integer, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False), sa.Column("created_by", sa.String(320)),
        sa.UniqueConstraint("name", "version", name="uq_cutoff_profiles_name_version"),
    )


def downgrade() -> None:
    op.drop_table("cutoff_profiles")
