"""Initial schema: uploaded files, their wells, patients and the audit log.

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("format", sa.String(100)),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("uploaded_by", sa.String(200)),
        sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("kind", "sha256", name="uq_files_kind_sha256"),
    )
    op.create_table(
        "wells",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("row", sa.Integer),
        sa.Column("well", sa.String(20), nullable=False),
        sa.Column("sample", sa.String(500)),
        sa.Column("target", sa.String(500)),
        sa.Column("target_type", sa.String(20)),
        sa.Column("channel", sa.String(20)),
        sa.Column("status", sa.String(50)),
        sa.Column("positives", sa.Integer),
        sa.Column("negatives", sa.Integer),
        sa.Column("accepted_droplets", sa.Integer),
        sa.Column("exported_concentration", sa.Float),
        sa.Column("exported_state", sa.String(20)),
        sa.Column("merged", sa.Boolean),
        sa.Column("merged_members", sa.String(500)),
        sa.Column("saturated", sa.Boolean),
        sa.Column("warnings", sa.Text),
    )
    op.create_table(
        "patients",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("patient_id", sa.String(200), nullable=False, unique=True),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("source_file_id", sa.Integer, sa.ForeignKey("files.id", ondelete="SET NULL")),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("demo", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(200)),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("entity", sa.String(200)),
        sa.Column("detail", sa.Text),
    )


def downgrade() -> None:
    for table in ("audit_log", "patients", "wells", "files"):
        op.drop_table(table)
