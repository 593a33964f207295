"""An index of the stored calls by sample and calls fingerprint: one patient's timeline (the Patient page, the
Monitoring page, ``monitor --db --patient``) reads that patient's calls, not every stored call of the registry.

Revision ID: 0010
Revises: 0009
"""
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_calls_sample_settings", "calls", ["sample", "settings_hash"])


def downgrade() -> None:
    op.drop_index("ix_calls_sample_settings", table_name="calls")
