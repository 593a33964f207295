"""Stored calls (with the settings they were made with) and the current settings.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("sample", sa.String(500), nullable=False),
        sa.Column("her2_ratio", sa.Float),
        sa.Column("her2_call", sa.String(30)),
        sa.Column("her2_borderline", sa.Boolean),
        sa.Column("pik3ca_any_mutant", sa.Boolean),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("settings", sa.Text, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(50), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_settings")
    op.drop_table("calls")
