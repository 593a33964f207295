"""Serial monitoring: the sample table (a patient's samples with their collection dates and volumes) and the events
table (treatments and imaging), linked to the stored exports by sample ID.

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "serial_samples",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.String(200), nullable=False, index=True),
        sa.Column("sample_id", sa.String(500), nullable=False, unique=True),
        sa.Column("collection_date", sa.String(10), nullable=False),
        sa.Column("plasma_ml", sa.Float), sa.Column("eluate_ul", sa.Float), sa.Column("template_ul", sa.Float),
        sa.Column("source", sa.String(500)), sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "serial_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.String(200), nullable=False, index=True),
        sa.Column("event_date", sa.String(10), nullable=False), sa.Column("event_type", sa.String(30), nullable=False),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("source", sa.String(500)), sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_table("serial_events")
    op.drop_table("serial_samples")
